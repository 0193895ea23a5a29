import { time, buf, gpu } from './harness';
const N = 64 * 32 * 26 * 26;
const y = buf(N), dy = buf(N), dx = buf(N);
const cur = `override WG: u32 = 64;
struct Params { count: u32 }
@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= params.count) { return; }
  dx[i] = select(0.0, dy[i], y[i] > 0.0);
}`;
const stride = `override WG: u32 = 64;
struct Params { count: u32 }
@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  for (var i = wid.x * WG + lid; i < params.count; i += groups.x * WG) {
    dx[i] = select(0.0, dy[i], y[i] > 0.0);
  }
}`;
const block = `override WG: u32 = 64;
override PER: u32 = 64;
struct Params { count: u32 }
@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let start = wid.x * WG * PER;
  let end = min(start + WG * PER, params.count);
  for (var i = start + lid; i < end; i += WG) {
    dx[i] = select(0.0, dy[i], y[i] > 0.0);
  }
}`;
const vec4k = `override WG: u32 = 64;
struct Params { count: u32 }
@group(0) @binding(0) var<storage, read> y: array<vec4f>;
@group(0) @binding(1) var<storage, read> dy: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dx: array<vec4f>;
@group(0) @binding(3) var<uniform> params: Params;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  for (var i = wid.x * WG + lid; i < params.count / 4u; i += groups.x * WG) {
    dx[i] = select(vec4f(0.0), dy[i], y[i] > vec4f(0.0));
  }
}`;
const P = new Uint32Array([N]);
const r: string[] = [];
for (let rep = 0; rep < 2; rep++) {
r.push(`cur64 ${(await time({ name: 'cur', code: cur, buffers: [y, dy, dx], ro: 2, params: P, wg: [N / 64, 1, 1] })).toFixed(2)}`);
for (const g of [16, 64, 256, 1024]) r.push(`stride g=${g} ${(await time({ name: 's', code: stride, buffers: [y, dy, dx], ro: 2, params: P, wg: [g, 1, 1] })).toFixed(2)}`);
for (const wg of [64, 128]) r.push(`stride wg=${wg} g=64 ${(await time({ name: 's', code: stride, constants: { WG: wg }, buffers: [y, dy, dx], ro: 2, params: P, wg: [64, 1, 1] })).toFixed(2)}`);
r.push(`block per=64 ${(await time({ name: 'b', code: block, buffers: [y, dy, dx], ro: 2, params: P, wg: [Math.ceil(N / 64 / 64), 1, 1] })).toFixed(2)}`);
for (const g of [64, 256]) r.push(`vec4 g=${g} ${(await time({ name: 'v', code: vec4k, buffers: [y, dy, dx], ro: 2, params: P, wg: [g, 1, 1] })).toFixed(2)}`);
}
console.log(gpu.backend, r.join('\n'));
