// The Node entry hashes keys with node:crypto (no trip through the thread pool); Workers and the scripts use Web Crypto.
// Both must give the same digests, or a key's events would be recorded under two ids.
import { keyIdOf, webCryptoSha256 } from '@seed/edge';
import { nodeSha256 } from '@seed/edge/node';
import { expect, it } from 'vitest';

it('node:crypto and Web Crypto give the same SHA-256 and the same key ids', async () => {
  for (const length of [0, 1, 31, 32, 55, 56, 63, 64, 65, 1000]) {
    const bytes = Uint8Array.from({ length }, (_, i) => (i * 131 + length) & 255);
    expect(Array.from(await nodeSha256(bytes))).toEqual(Array.from(await webCryptoSha256(bytes)));
  }
  for (const key of ['client-key', 'ünïcödé-kéy', 'x'.repeat(300)]) expect(await keyIdOf(key, nodeSha256)).toBe(await keyIdOf(key));
  expect(await keyIdOf('client-key')).toMatch(/^k_[0-9a-f]{16}$/);
});
