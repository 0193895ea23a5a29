// The edge tests' keys, one of each role and a second client, free of imports so the vitest config can read them too.
export const ADMIN_TOKEN = 'test-admin-token';

export const KEYS = { client: 'test-client-key', otherClient: 'test-client-key-2', reader: 'test-reader-key', admin: ADMIN_TOKEN } as const;

/** The settings that give those keys their roles. */
export const KEY_SETTINGS = { API_KEYS: `${KEYS.client},${KEYS.otherClient}`, READ_KEYS: KEYS.reader, ADMIN_TOKEN };
