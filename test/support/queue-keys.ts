import { Redis } from 'ioredis';

/**
 * Deletes every Redis key under one BullMQ prefix (`<prefix>:*`) and returns how many went. Never FLUSHALL: the
 * Redis is shared with other test files and other people's runs.
 */
export async function deleteQueueKeys(prefix: string, redisUrl: string): Promise<number> {
  if (!/^[\w.-]+$/.test(prefix)) throw new Error(`refusing to delete keys of a suspicious prefix ${prefix}`);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}
