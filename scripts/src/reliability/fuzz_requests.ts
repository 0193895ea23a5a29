// Generated bad requests against every route of the edge API, and the run that checks every answer: a 4xx JSON error
// of the documented shape (never a 5xx, a stack trace, a hang or a secret), a healthy server afterwards, and an event
// log and registry holding nothing a rejected request sent.
import { buildNetwork, initialParameters, Random, writeModel, type LayerSpec } from '@seed/runtime/engine';

const KiB = 1024;
const MiB = 1024 * KiB;
const encoder = new TextEncoder();

/** What a generator needs: a valid image and model, the keys, and events that already have a reward. */
export interface FuzzContext {
  image: number[];
  apiKey: string;
  /** A second client key: the setup events are not its own. */
  otherApiKey: string;
  adminToken: string;
  activeVersion: string;
  /** The active model's file. */
  modelFile: Uint8Array;
  /** A valid file labelled with the active version but with other weights. */
  conflictingFile: Uint8Array;
  /** A valid file the edge cannot serve (another input size), labelled `unservable`. */
  unservableFile: Uint8Array;
  rewarded: { eventId: string; value: number }[];
}

export interface FuzzRequest {
  kind: string;
  method: string;
  /** Path and query, already encoded as they go on the wire. */
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  /** Send the body as a stream of chunks, without Content-Length. */
  chunked?: boolean;
  /** The statuses the contract allows for this request. */
  expect: number[];
}

type RequestMaker = (random: Random, context: FuzzContext) => Omit<FuzzRequest, 'kind'>;

const pick = <T>(random: Random, items: readonly T[]): T => items[random.int(items.length)];
const text = (value: string) => encoder.encode(value);
const json = (value: unknown) => text(JSON.stringify(value));
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const JSON_TYPE = { 'Content-Type': 'application/json' };

const predict = (context: FuzzContext, body: Uint8Array, expect: number[], headers: Record<string, string> = JSON_TYPE) => ({
  method: 'POST',
  path: '/v1/predict',
  headers: { ...bearer(context.apiKey), ...headers },
  body,
  expect,
});
const reward = (context: FuzzContext, pathId: string, body: Uint8Array, expect: number[], headers: Record<string, string> = JSON_TYPE) => ({
  method: 'POST',
  path: `/v1/events/${pathId}/reward`,
  headers: { ...bearer(context.apiKey), ...headers },
  body,
  expect,
});

/** The image with one value replaced (by raw JSON text, so 1e999 and the like reach the server as written). */
function withPixel(image: number[], index: number, raw: string): Uint8Array {
  return text(`{"pixels":[${image.map((value, i) => (i === index ? raw : String(value))).join(',')}]}`);
}

const ODD_EVENT_IDS = [
  'é', '✓', '😀', 'ｆｕｌｌｗｉｄｔｈ', '../etc/passwd', '..', './x', 'a/b', '..\\..\\x', "' OR '1'='1", '1; DROP TABLE events; --',
  '"; DELETE FROM events; --', "x' UNION SELECT * FROM models --", 'x'.repeat(65), 'y'.repeat(200), '', ' ', 'a b', 'a\u0000b', 'tab\t',
  'line\nbreak', '%2e%2e', '%00', '<script>', '${jndi:x}', `${'a'.repeat(63)}é`,
];
const OUT_OF_RANGE = ['-1e-9', '-0.5', '-1', '1.000001', '1.5', '2', '255', '1e308', '-1e308', '1e999', '-1e999', '123456789012345678901234567890', '9007199254740993'];
const NOT_NUMBERS = ['null', 'true', 'false', '{}', '[]', '"x"', '"0.5"', '[0.5]', '{"value":0.5}'];
const WRONG_CONTENT_TYPES = [
  'text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/jsonx',
  'json', 'text/json', 'application/octet-stream', 'application/javascript', 'image/png',
];
const BAD_JSON = ['{pixels: [0.5]}', '{"pixels":[0.5,],}', '{"pixels":[NaN]}', "{'pixels':[0.5]}", '{"pixels":[0.5]} // x', '{"pixels":[0.5]}}', '{"pixels"', '{"', '{', '[', '"', 'nul', '\u0000', '{"pixels":[0.5] "eventId":"x"}'];
const NOT_OBJECTS = ['null', '[]', '"x"', '123', 'true', '[{"pixels":[]}]', '1e999'];

/** Bytes that are not UTF-8 JSON: random, with invalid UTF-8 sequences mixed in. */
function garbage(random: Random, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = random.next() < 0.2 ? 0xc0 + random.int(64) : random.int(256);
  bytes[0] = 0xff;
  return bytes;
}

/** `depth` levels of `open` around `inner`, closed again: deeply nested JSON in few bytes. */
const nested = (open: string, close: string, depth: number, inner = '') => `${open.repeat(depth)}${inner}${close.repeat(depth)}`;

function deepBody(random: Random): string {
  switch (random.int(5)) {
    case 0:
      return `{"pixels":${nested('[', ']', 100 + random.int(32_000))}}`;
    case 1:
      return `{"pixels":${nested('{"a":', '}', 100 + random.int(10_000), '0')}}`;
    case 2:
      return `{"instances":${nested('[', ']', 1000 + random.int(random.next() < 0.05 ? 1_900_000 : 200_000))}}`;
    case 3:
      return `{"instances":[{"pixels":${nested('[', ']', 100 + random.int(100_000))}}]}`;
    default:
      return `{"instances":[${nested('{"instances":[', ']}', 100 + random.int(50_000))}]}`;
  }
}

/** A request body of `bytes` bytes: valid JSON padded with spaces (sizes are what the limits are about). */
const padded = (body: string, bytes: number) => text(body.replace(/}$/, `${' '.repeat(Math.max(0, bytes - body.length))}}`));

/** Each kind of bad request, by route. A kind's name says what is wrong; `expect` what the contract answers. */
export const FUZZ_KINDS: Record<string, RequestMaker> = {
  'predict: 783, 785 or another count of pixels': (random, c) => {
    const count = pick(random, [0, 1, 783, 785, 1568, random.int(1600)].filter((n) => n !== 784));
    return predict(c, json({ pixels: Array.from({ length: count }, (_, i) => c.image[i % 784]) }), [400]);
  },
  'predict: a pixel out of [0,1] or huge': (random, c) => predict(c, withPixel(c.image, random.int(784), pick(random, OUT_OF_RANGE)), [400]),
  'predict: a pixel of the wrong type': (random, c) => predict(c, withPixel(c.image, random.int(784), pick(random, NOT_NUMBERS)), [400]),
  'predict: numbers as strings': (random, c) => {
    const strings = c.image.map((value) => (random.next() < 0.5 ? String(value) : value));
    strings[random.int(784)] = String(c.image[0]);
    return predict(c, json(pick(random, [{ pixels: strings }, { pixels: c.image, explore: pick(random, ['true', 'false', 1, 0, null]) }, { pixels: c.image, eventId: pick(random, [123, true, null, [], {}]) }])), [400]);
  },
  'predict: fields of the wrong type': (random, c) => {
    const bodies = [
      { pixels: '0.5,0.5' }, { pixels: 784 }, { pixels: { 0: 0.5 } }, { pixels: null }, { pixels: true }, { pixels: [c.image] },
      { instances: 'x' }, { instances: {} }, { instances: [1, 2] }, { instances: [null] }, { instances: [{ pixels: 'x' }] }, { instances: [c.image] },
    ];
    return predict(c, json(pick(random, bodies)), [400]);
  },
  'predict: deeply nested JSON': (random, c) => predict(c, text(deepBody(random)), [400]),
  'predict: truncated JSON': (random, c) => {
    const whole = JSON.stringify(random.next() < 0.7 ? { pixels: c.image, eventId: `t${random.int(1e9)}` } : { instances: [{ pixels: c.image }, { pixels: c.image }] });
    return predict(c, text(whole.slice(0, 1 + random.int(whole.length - 1))), [400]);
  },
  'predict: malformed JSON or not UTF-8': (random, c) => predict(c, random.next() < 0.6 ? text(pick(random, BAD_JSON)) : garbage(random, 1 + random.int(2000)), [400]),
  'predict: JSON that is not an object': (random, c) => predict(c, text(pick(random, NOT_OBJECTS)), [400]),
  'predict: empty body': (random, c) => (random.next() < 0.5 ? predict(c, new Uint8Array(0), [400]) : predict(c, new Uint8Array(0), [415], {})),
  'predict: wrong or missing content type': (random, c) => {
    const type = pick(random, [...WRONG_CONTENT_TYPES, null]);
    return predict(c, json({ pixels: c.image }), [415], type === null ? {} : { 'Content-Type': type });
  },
  'predict: odd eventId (unicode, ../, SQL, 65 chars)': (random, c) => {
    const eventId = pick(random, ODD_EVENT_IDS);
    return predict(c, json(random.next() < 0.7 ? { pixels: c.image, eventId } : { instances: [{ pixels: c.image }, { pixels: c.image, eventId }] }), [400]);
  },
  'predict: the wrong shape of body': (random, c) => {
    const image = JSON.stringify(c.image);
    const bodies = [
      '{}', `{"pixels":${image},"instances":[{"pixels":${image}}]}`, '{"instances":[]}', `{"instances":[${Array(65).fill(`{"pixels":${image}}`).join(',')}]}`,
      `{"instances":[{"pixels":${image},"eventId":"same"},{"pixels":${image},"eventId":"same"}]}`, `{"pixels":${image},"colour":"red"}`,
      `{"instances":[{"pixels":${image},"extra":1}]}`, `{"instances":[{"pixels":${JSON.stringify(c.image.slice(1))}}]}`,
      `{"instances":[{"pixels":${image}}],"eventId":"top"}`, `{"Pixels":${image}}`, `{"pixels":${image},"__proto__":{"admin":true}}`, `{"pixels ":${image}}`,
    ];
    return predict(c, text(pick(random, bodies)), [400]);
  },
  'predict: a body over the limits': (random, c) => {
    const single = JSON.stringify({ pixels: c.image });
    const batch = JSON.stringify({ instances: [{ pixels: c.image }] });
    switch (random.int(5)) {
      case 0:
        return { ...predict(c, padded(single, 64 * KiB + 1 + random.int(256 * KiB)), [413]) };
      case 1: // long decimals: valid numbers, too many bytes for one image
        return predict(c, text(`{"pixels":[${c.image.map((v) => v.toFixed(0) + '.' + '0'.repeat(100)).join(',')}]}`), [413]);
      case 2:
        return predict(c, padded(batch, 4 * MiB + 1 + random.int(64 * KiB)), [413]);
      case 3:
        return { ...predict(c, padded(batch, 4 * MiB + 1 + random.int(64 * KiB)), [413]), chunked: true };
      default:
        return { ...predict(c, padded(single, 64 * KiB + 1 + random.int(64 * KiB)), [413]), chunked: true };
    }
  },
  'predict: no key, a wrong key or a malformed Authorization': (random, c) => {
    const authorization = pick(random, [
      null, 'Bearer wrong-key', 'Bearer', 'Bearer ', `Basic ${btoa(`user:${c.apiKey}`)}`, `Bearer ${c.apiKey}x`, `Bearer ${c.apiKey.slice(0, -1)}`,
      `Bearer ${c.apiKey.toUpperCase()}`, `Bearer ${'k'.repeat(4000)}`, `Token ${c.apiKey}`, `Bearer a, Bearer ${c.apiKey}`, `${c.apiKey}`, 'Bearer \u00e9t\u00e9',
    ]);
    return { method: 'POST', path: '/v1/predict', headers: { ...JSON_TYPE, ...(authorization === null ? {} : { Authorization: authorization }) }, body: json({ pixels: c.image }), expect: [401] };
  },

  'reward: a value out of [-1,1], of the wrong type or missing': (random, c) => {
    const raw = pick(random, ['1.0001', '-1.0001', '2', '-2', '1e308', '1e999', '-1e999', '"1"', '"0"', ...NOT_NUMBERS.slice(0, 6)]);
    const body = pick(random, [`{"value":${raw}}`, '{}', '{"value":1,"extra":2}', '{"Value":1}', `{"value":[${raw}]}`]);
    const id = random.next() < 0.5 ? pick(random, c.rewarded).eventId : `fuzz-unknown-${random.int(1e9)}`;
    return reward(c, id, text(body), [400]);
  },
  'reward: odd event id in the path (unicode, ../, SQL, 65 chars)': (random, c) => {
    const raw = pick(random, [...ODD_EVENT_IDS.filter(Boolean).map(encodeURIComponent), '%ZZ', '%', '%00', '%2e%2e', '..%2F..%2Fetc', '%252e%252e', '%C0%AE', '%E2%80%AE']);
    // A path that resolves elsewhere (`..`) is a 404 for want of a route.
    return reward(c, raw, json({ value: 1 }), [400, 404]);
  },
  'reward: an event that was never logged': (random, c) => reward(c, `fuzz-unknown-${random.int(1e9)}`, json({ value: pick(random, [-1, 0, 0.5, 1]) }), [404]),
  'reward: a repeat with another value': (random, c) => {
    const { eventId, value } = pick(random, c.rewarded);
    return reward(c, eventId, json({ value: value === 1 ? pick(random, [-1, 0, 0.5]) : 1 }), [409]);
  },
  'reward: a repeat with the same value (a retry: 204 by contract)': (random, c) => {
    const { eventId, value } = pick(random, c.rewarded);
    return reward(c, eventId, json({ value }), [204]);
  },
  'reward: wrong content type, empty, truncated or malformed body': (random, c) => {
    const id = pick(random, c.rewarded).eventId;
    switch (random.int(4)) {
      case 0:
        return reward(c, id, json({ value: 1 }), [415], { 'Content-Type': pick(random, WRONG_CONTENT_TYPES) });
      case 1:
        return reward(c, id, new Uint8Array(0), [400]);
      case 2:
        return reward(c, id, text('{"value": 1'.slice(0, 1 + random.int(10))), [400]);
      default:
        return reward(c, id, random.next() < 0.5 ? text(pick(random, BAD_JSON)) : garbage(random, 1 + random.int(500)), [400]);
    }
  },
  'reward: a body over 4 KiB': (random, c) => ({ ...reward(c, pick(random, c.rewarded).eventId, padded('{"value":1}', 4 * KiB + 1 + random.int(64 * KiB)), [413]), chunked: random.next() < 0.3 }),
  'reward: another key\'s event (the same 404 as an unknown one)': (random, c) => ({
    ...reward(c, pick(random, c.rewarded).eventId, json({ value: pick(random, [-1, 0, 0.5, 1]) }), [404]),
    headers: { ...JSON_TYPE, ...bearer(c.otherApiKey) },
  }),
  'reward: no key or a wrong key': (random, c) => ({ ...reward(c, pick(random, c.rewarded).eventId, json({ value: 1 }), [401]), headers: { ...JSON_TYPE, ...(random.next() < 0.5 ? {} : bearer(`${c.apiKey}-old`)) } }),

  'weights: odd or unknown version': (random, c) => {
    const version = pick(random, ['.hidden', '-x', '_x', 'a%2Fb', encodeURIComponent('é'), 'v'.repeat(65), encodeURIComponent("v1' OR '1'='1"), '%ZZ', '%2e%2e', `unknown-${random.int(1e9)}`]);
    return { method: 'GET', path: `/v1/models/${version}/weights`, headers: bearer(c.adminToken), expect: [400, 404] };
  },
  'read routes: no key, a wrong key or a client key': (random, c) => {
    const path = pick(random, ['/v1/models', `/v1/models/${c.activeVersion}/weights`, '/metrics']);
    const [headers, status] = pick(random, [[{}, 401], [bearer('wrong-key'), 401], [bearer(`${c.adminToken}x`), 401], [bearer(c.apiKey), 403], [bearer(c.otherApiKey), 403]] as const);
    return { method: 'GET', path, headers, expect: [status] };
  },
  'predict: the admin token is not a client key': (random, c) => predict(c, json({ pixels: c.image }), [403], { ...JSON_TYPE, ...bearer(c.adminToken) }),
  'upload: no token, a wrong token or an API key': (random, c) => {
    const [headers, status] = pick(random, [[{}, 401], [bearer('wrong-token'), 401], [bearer(`${c.adminToken}0`), 401], [bearer(c.apiKey), 403]] as const);
    return { method: 'PUT', path: `/v1/models/fuzz-${random.int(1e9)}`, headers, body: c.modelFile.subarray(0, random.int(1000)), expect: [status] };
  },
  'upload: truncated, bit-flipped, mislabelled or unservable weights': (random, c) => {
    const version = `fuzz-${random.int(1e9)}`;
    const upload = (path: string, body: Uint8Array, expect: number[]) => ({ method: 'PUT', path: `/v1/models/${path}`, headers: bearer(c.adminToken), body, expect });
    switch (random.int(7)) {
      case 0:
        return upload(version, c.modelFile.subarray(0, random.int(c.modelFile.length)), [400]);
      case 1: {
        const flipped = c.modelFile.slice();
        const headerEnd = 8 + Number(new DataView(flipped.buffer).getBigUint64(0, true));
        flipped[headerEnd + random.int(flipped.length - headerEnd)] ^= 1 << random.int(8);
        return upload(version, flipped, [400]);
      }
      case 2:
        return upload(version, random.next() < 0.5 ? garbage(random, random.int(4096)) : new Uint8Array(random.int(64)), [400]);
      case 3: // the active model's file under another version: the label does not match the path
        return upload(version, c.modelFile, [400]);
      case 4: // the active version again, with other contents
        return upload(c.activeVersion, c.conflictingFile, [409]);
      case 5:
        return upload('unservable', c.unservableFile, [400]);
      default: {
        const lying = c.modelFile.slice();
        new DataView(lying.buffer).setBigUint64(0, pick(random, [0n, 1n, 0xffff_ffff_ffff_ffffn, BigInt(lying.length), BigInt(random.int(1 << 30))]), true);
        return upload(version, lying, [400]);
      }
    }
  },
  'upload: a file over 16 MiB': (random, c) => ({ method: 'PUT', path: `/v1/models/fuzz-${random.int(1e9)}`, headers: bearer(c.adminToken), body: new Uint8Array(16 * MiB + 1 + random.int(1024)), expect: [413] }),
  'promote: an unknown or odd version, or without the admin token': (random, c) => {
    const [version, headers, status] = pick(random, [
      [`unknown-${random.int(1e9)}`, bearer(c.adminToken), [404]], ['unservable', bearer(c.adminToken), [404]], ['%2e%2e', bearer(c.adminToken), [400, 404]],
      [encodeURIComponent("v1'--"), bearer(c.adminToken), [400]], ['v'.repeat(65), bearer(c.adminToken), [400]], [c.activeVersion, {}, [401]],
      [c.activeVersion, bearer('nope'), [401]], [c.activeVersion, bearer(c.apiKey), [403]],
    ] as const);
    return { method: 'POST', path: `/v1/models/${version}/promote`, headers, expect: [...status] };
  },
  'rollback: nothing earlier, or without the admin token': (random, c) => {
    const [headers, status] = pick(random, [[bearer(c.adminToken), 409], [{}, 401], [bearer('nope'), 401], [bearer(c.apiKey), 403]] as const);
    return { method: 'POST', path: '/v1/rollback', headers, expect: [status] };
  },
  'export: a bad cursor, limit or parameter, or without the admin token': (random, c) => {
    const after = pick(random, ['abc', '-1', '1.5', '', '0x10', '9999999999999999', encodeURIComponent("1' OR '1'='1"), '%ZZ']);
    const limit = pick(random, ['0', '-1', '10001', 'abc', '1.5', '', 'NaN', 'Infinity', '1e9', '%ZZ']);
    const [query, headers, status] = pick(random, [
      [`after=${after}`, bearer(c.adminToken), 400], [`limit=${limit}`, bearer(c.adminToken), 400], ['after=1&after=2', bearer(c.adminToken), 400],
      ['colour=red', bearer(c.adminToken), 400], ['', {}, 401], ['', bearer(c.apiKey), 403], ['', bearer(`${c.adminToken}x`), 401],
    ] as const);
    return { method: 'GET', path: `/v1/events${query ? `?${query}` : ''}`, headers, expect: [status] };
  },
  'any route: a wrong method or an unknown path': (random, c) => {
    const [method, path] = pick(random, [
      ['GET', '/v1/predict'], ['PUT', '/v1/predict'], ['DELETE', '/v1/predict'], ['PATCH', '/v1/events/x/reward'], ['GET', '/v1/events/x/reward'],
      ['POST', '/health'], ['DELETE', '/health'], ['POST', '/metrics'], ['POST', '/v1/model'], ['DELETE', `/v1/models/${c.activeVersion}`],
      ['POST', `/v1/models/${c.activeVersion}/weights`], ['GET', '/v1/rollback'], ['GET', `/v1/models/${c.activeVersion}/promote`], ['POST', '/v1/events'],
      ['GET', '/v2/predict'], ['GET', '/v1/predict/x'], ['GET', '/%00'], ['GET', '/v1/models/a/b/c'], ['OPTIONS', '/v1/predict'], ['GET', '/.env'],
      ['GET', '/wp-login.php'], ['GET', `/${'x'.repeat(2000)}`],
    ] as const);
    return { method, path, headers: bearer(c.apiKey), expect: [404] };
  },
};

/**
 * `count` requests over every kind in turn (shuffled within each round), the same for the same seed. Made one at a time
 * as the caller asks: building them all first would block the event loop long enough for idle keep-alive connections
 * to be closed under the client.
 */
export function* fuzzRequests(count: number, seed: number, context: FuzzContext): Generator<FuzzRequest> {
  const random = new Random(seed);
  const kinds = Object.entries(FUZZ_KINDS);
  let made = 0;
  while (made < count) {
    for (const [kind, make] of random.shuffle([...kinds]) as [string, RequestMaker][]) {
      if (made === count) break;
      // 16 MiB uploads and 4 MiB batches: a few are enough.
      if ((kind === 'upload: a file over 16 MiB' && random.next() > 0.1) || (kind === 'predict: a body over the limits' && random.next() > 0.5)) continue;
      made++;
      yield { kind, ...make(random, context) };
    }
  }
}

/** A model of another input size (1×32×32), valid as a file: the edge must refuse to serve it. */
export async function unservableModelFile(version = 'unservable'): Promise<Uint8Array> {
  const layers: LayerSpec[] = [
    { kind: 'input', shape: [1, 32, 32] },
    { kind: 'flatten' },
    { kind: 'dense', name: 'policy', inFeatures: 1024, outFeatures: 10, head: 'policy' },
  ];
  const network = buildNetwork(layers);
  return writeModel(network, initialParameters(network, 1), { version, created: '2026-04-01T00:00:00.000Z' });
}
