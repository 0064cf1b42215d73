/** A response as a test sees it: status, parsed JSON body (or undefined) and headers. */
export interface HttpResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** Minimal JSON client over real HTTP (Node's fetch); `raw` sends a body exactly as given. */
export function httpClient(baseUrl: string) {
  async function send(method: string, path: string, body?: unknown, raw?: string): Promise<HttpResult> {
    const response = await fetch(new URL(path, baseUrl), {
      method,
      headers: body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {},
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text ? (JSON.parse(text) as unknown) : undefined,
      headers: response.headers,
    };
  }
  return {
    get: (path: string) => send('GET', path),
    post: (path: string, body?: unknown) => send('POST', path, body),
    put: (path: string, body?: unknown) => send('PUT', path, body),
    delete: (path: string) => send('DELETE', path),
    raw: (method: string, path: string, raw: string) => send(method, path, undefined, raw),
  };
}
