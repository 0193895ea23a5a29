// Reproducible exploration for experiments: with EXPLORATION_SEED set, an event's exploration draw is a keyed hash
// (HMAC-SHA256) of the key id and the client's event id instead of Math.random, so two runs that send the same events
// to the same models log the same actions whatever order the requests arrive in. A client that does not know the seed
// cannot predict its draws; one that knows it could choose event ids to pick its draws, so production leaves it unset.

const encoder = new TextEncoder();
const keys = new Map<string, ReturnType<typeof crypto.subtle.importKey>>();

const hmacKey = (seed: string) => {
  let key = keys.get(seed);
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(seed), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    keys.set(seed, key);
  }
  return key;
};

/** Uniform in [0, 1), 53 bits, from HMAC-SHA256(seed, keyId \n eventId). */
export async function seededDraw(seed: string, keyId: string, eventId: string): Promise<number> {
  const mac = new DataView(await crypto.subtle.sign('HMAC', await hmacKey(seed), encoder.encode(`${keyId}\n${eventId}`)));
  return (mac.getUint32(0) * 2 ** 21 + (mac.getUint32(4) >>> 11)) / 2 ** 53;
}
