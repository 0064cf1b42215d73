import { createSign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** An OAuth 2 access token for Google APIs (GKE accepts it as the Kubernetes bearer token). */
export interface AccessToken {
  readonly token: string;
  /** Epoch milliseconds after which the token must not be used. */
  readonly expiresAt: number;
}

/**
 * Where GKE accounts get their bearer token. Injectable so that tests put a fake in front of the simulator; in
 * production it is {@link ApplicationDefaultCredentials}.
 */
export abstract class GoogleTokenSource {
  abstract accessToken(): Promise<AccessToken>;
}

/** Options of {@link ApplicationDefaultCredentials}; the defaults are Google's well-known locations. */
export interface ApplicationDefaultCredentialsOptions {
  /**
   * A credentials JSON file (service account key or `gcloud auth application-default login` output) that must
   * exist. Default: gcloud's file ({@link gcloudCredentialsFile}) when it exists, else the metadata server.
   */
  readonly credentialsFile?: string;
  /** gcloud's file, used when it exists (default `~/.config/gcloud/application_default_credentials.json`). */
  readonly gcloudCredentialsFile?: string;
  /** Base URL of the GCE/GKE metadata server (default `http://169.254.169.254`). */
  readonly metadataServer?: string;
  readonly fetch?: typeof fetch;
  /** The clock that token lifetimes are measured by (default `Date.now`). */
  readonly now?: () => number;
}

const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const TOKEN_URI = 'https://oauth2.googleapis.com/token';
const METADATA_SERVER = 'http://169.254.169.254';
const METADATA_TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token';
/** Tokens are refreshed this long before they expire, so a request never leaves with one about to lapse. */
const REFRESH_MARGIN_MS = 60_000;

interface CredentialsFile {
  type?: string;
  client_id?: string;
  client_secret?: string;
  refresh_token?: string;
  client_email?: string;
  private_key?: string;
  token_uri?: string;
}

/**
 * Google application-default credentials, the common cases: a service-account key or an authorized-user file
 * (gcloud), else the GCE/GKE metadata server (Workload Identity). Tokens are cached until shortly before they
 * expire and concurrent callers share one refresh. Nothing here is ever logged.
 */
export class ApplicationDefaultCredentials extends GoogleTokenSource {
  private cached: AccessToken | undefined;
  private inFlight: Promise<AccessToken> | undefined;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly options: ApplicationDefaultCredentialsOptions = {}) {
    super();
    this.fetch = options.fetch ?? fetch;
    this.now = options.now ?? Date.now;
  }

  async accessToken(): Promise<AccessToken> {
    if (this.cached && this.cached.expiresAt - REFRESH_MARGIN_MS > this.now()) return this.cached;
    this.inFlight ??= this.refresh().finally(() => (this.inFlight = undefined));
    this.cached = await this.inFlight;
    return this.cached;
  }

  private async refresh(): Promise<AccessToken> {
    const file = await this.readCredentials();
    if (file?.type === 'service_account') return this.serviceAccount(file);
    if (file?.type === 'authorized_user') return this.authorizedUser(file);
    if (file) throw new Error(`unsupported Google credentials type "${file.type ?? '(none)'}"`);
    return this.metadataServer();
  }

  private async readCredentials(): Promise<CredentialsFile | undefined> {
    const path =
      this.options.credentialsFile ??
      this.options.gcloudCredentialsFile ??
      join(homedir(), '.config', 'gcloud', 'application_default_credentials.json');
    try {
      return JSON.parse(await readFile(path, 'utf8')) as CredentialsFile;
    } catch (error) {
      if (this.options.credentialsFile)
        throw new Error(`cannot read Google credentials file ${path}`, { cause: error });
      return undefined;
    }
  }

  private async serviceAccount(file: CredentialsFile): Promise<AccessToken> {
    const tokenUri = file.token_uri ?? TOKEN_URI;
    const iat = Math.floor(this.now() / 1000);
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode({
      iss: file.client_email,
      scope: SCOPE,
      aud: tokenUri,
      iat,
      exp: iat + 3600,
    })}`;
    const signature = createSign('RSA-SHA256')
      .update(unsigned)
      .sign(file.private_key ?? '')
      .toString('base64url');
    return this.exchange(tokenUri, {
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: `${unsigned}.${signature}`,
    });
  }

  private authorizedUser(file: CredentialsFile): Promise<AccessToken> {
    return this.exchange(file.token_uri ?? TOKEN_URI, {
      grant_type: 'refresh_token',
      client_id: file.client_id ?? '',
      client_secret: file.client_secret ?? '',
      refresh_token: file.refresh_token ?? '',
    });
  }

  private async exchange(url: string, form: Record<string, string>): Promise<AccessToken> {
    const response = await this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(10_000),
    });
    return this.tokenFrom(response, url);
  }

  private async metadataServer(): Promise<AccessToken> {
    const url = `${(this.options.metadataServer ?? METADATA_SERVER).replace(/\/$/, '')}${METADATA_TOKEN_PATH}`;
    const response = await this.request(url, {
      headers: { 'Metadata-Flavor': 'Google' },
      signal: AbortSignal.timeout(3_000),
    });
    return this.tokenFrom(response, url);
  }

  private async request(url: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetch(url, init);
    } catch (error) {
      // fetch says only "fetch failed"; what went wrong (refused, timed out, no such host) is in its cause.
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const name = (error as Error).name;
      const reason =
        name === 'TimeoutError' ? 'no answer in time' : (cause?.code ?? cause?.message ?? (error as Error).message);
      throw new Error(`cannot reach ${url} for a Google access token: ${reason}`, { cause: error });
    }
  }

  private async tokenFrom(response: Response, url: string): Promise<AccessToken> {
    if (!response.ok) {
      // The body of a failed token request can echo what was sent, so only OAuth's own error fields (RFC 6749
      // §5.2: a code and a sentence, such as invalid_grant "Token has been expired or revoked.") are kept.
      const oauth = (await response.json().catch(() => ({}))) as { error?: unknown; error_description?: unknown };
      const said = [oauth.error, oauth.error_description].filter((x) => typeof x === 'string').join(': ');
      throw new Error(`Google token request to ${url} failed with HTTP ${response.status}${said ? ` (${said})` : ''}`);
    }
    const body = (await response.json()) as { access_token?: string; expires_in?: number };
    if (!body.access_token) throw new Error(`Google token response from ${url} has no access_token`);
    return { token: body.access_token, expiresAt: this.now() + (body.expires_in ?? 3600) * 1000 };
  }
}
