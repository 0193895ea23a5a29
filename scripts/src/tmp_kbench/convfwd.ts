import { time, buf, gpu, lastCpu } from './harness';
const B = 64;
const input = buf(B * 784, () => Math.random()), weight = buf(288), bias = buf(32);
const out = buf(B * 32 * 169), argmax = buf(B * 32 * 169);
const head = `
override B: u32 = 64;
@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;
@group(0) @binding(4) var<storage, read_write> argmax: array<u32>;
const H = 28u; const W = 28u; const CW = 26u; const PH = 13u; const PW = 13u; const OUT_C = 32u;
`;
// A: positions on lanes, patch in registers, channel loop uniform
const A = head + `
override WG: u32 = 64;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  for (var t = wid.x * WG + lid; t < B * PH * PW; t += groups.x * WG) {
    let n = t / (PH * PW);
    let p = t % (PH * PW);
    let py = p / PW; let px = p % PW;
    let base = n * H * W + (py * 2u) * W + px * 2u;
    var tile: array<f32, 16>;
    for (var r = 0u; r < 4u; r++) { for (var s = 0u; s < 4u; s++) { tile[r * 4u + s] = input[base + r * W + s]; } }
    for (var o = 0u; o < OUT_C; o++) {
      var best = -1.0; var bestAt = 0u;
      for (var a = 0u; a < 2u; a++) { for (var b = 0u; b < 2u; b++) {
        var sum = bias[o];
        for (var i = 0u; i < 3u; i++) { for (var j = 0u; j < 3u; j++) { sum += tile[(a + i) * 4u + b + j] * weight[o * 9u + i * 3u + j]; } }
        sum = max(sum, 0.0);
        let better = sum > best;
        best = select(best, sum, better); bestAt = select(bestAt, (py * 2u + a) * CW + px * 2u + b, better);
      } }
      let idx = (n * OUT_C + o) * PH * PW + p;
      output[idx] = best; argmax[idx] = (n * OUT_C + o) * CW * CW + bestAt;
    }
  }
}`;
const A2 = head + `
override WG: u32 = 64;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  for (var t = wid.x * WG + lid; t < B * PH * PW; t += groups.x * WG) {
    let n = t / (PH * PW);
    let p = t % (PH * PW);
    let py = p / PW; let px = p % PW;
    let base = n * H * W + (py * 2u) * W + px * 2u;
    for (var o = 0u; o < OUT_C; o++) {
      var best = -1.0; var bestAt = 0u;
      for (var a = 0u; a < 2u; a++) { for (var b = 0u; b < 2u; b++) {
        var sum = bias[o];
        for (var i = 0u; i < 3u; i++) { for (var j = 0u; j < 3u; j++) { sum += input[base + (a + i) * W + b + j] * weight[o * 9u + i * 3u + j]; } }
        sum = max(sum, 0.0);
        let better = sum > best;
        best = select(best, sum, better); bestAt = select(bestAt, (py * 2u + a) * CW + px * 2u + b, better);
      } }
      let idx = (n * OUT_C + o) * PH * PW + p;
      output[idx] = best; argmax[idx] = (n * OUT_C + o) * CW * CW + bestAt;
    }
  }
}`;
// B: channels on lanes, one workgroup per image (or per image row block), positions loop uniform
const Bk = head + `
override ROWS: u32 = 13u;
@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) o: u32) {
  let n = wid.x / (PH / ROWS); let rowStart = (wid.x % (PH / ROWS)) * ROWS;
  var w: array<f32, 9>;
  for (var q = 0u; q < 9u; q++) { w[q] = weight[o * 9u + q]; }
  let b0 = bias[o];
  for (var py = rowStart; py < rowStart + ROWS; py++) {
    for (var px = 0u; px < PW; px++) {
      let base = n * H * W + (py * 2u) * W + px * 2u;
      var best = -1.0; var bestAt = 0u;
      for (var a = 0u; a < 2u; a++) { for (var b = 0u; b < 2u; b++) {
        var sum = b0;
        for (var i = 0u; i < 3u; i++) { for (var j = 0u; j < 3u; j++) { sum += input[base + (a + i) * W + b + j] * w[i * 3u + j]; } }
        sum = max(sum, 0.0);
        let better = sum > best;
        best = select(best, sum, better); bestAt = select(bestAt, (py * 2u + a) * CW + px * 2u + b, better);
      } }
      let idx = (n * OUT_C + o) * PH * PW + py * PW + px;
      output[idx] = best; argmax[idx] = (n * OUT_C + o) * CW * CW + bestAt;
    }
  }
}`;
const Bg = head + `
override ROWS: u32 = 13u;
@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) o: u32) {
  let n = wid.x / (PH / ROWS); let rowStart = (wid.x % (PH / ROWS)) * ROWS;
  var w: array<f32, 9>;
  for (var q = 0u; q < 9u; q++) { w[q] = weight[o * 9u + q]; }
  let b0 = bias[o];
  for (var py = rowStart; py < rowStart + ROWS; py++) {
    for (var px = 0u; px < PW; px++) {
      let base = n * H * W + (py * 2u) * W + px * 2u;
      var best = -1.0; var bestAt = 0u;
      for (var a = 0u; a < 2u; a++) { for (var b = 0u; b < 2u; b++) {
        var sum = b0;
        for (var i = 0u; i < 3u; i++) { for (var j = 0u; j < 3u; j++) { sum += input[base + (a + i) * W + b + j] * weight[o * 9u + i * 3u + j]; } }
        sum = max(sum, 0.0);
        let better = sum > best;
        best = select(best, sum, better); bestAt = select(bestAt, (py * 2u + a) * CW + px * 2u + b, better);
      } }
      let idx = (n * OUT_C + o) * PH * PW + py * PW + px;
      output[idx] = best; argmax[idx] = (n * OUT_C + o) * CW * CW + bestAt;
    }
  }
}`;
const r: string[] = [];
const bufs = [input, weight, bias, out, argmax];
for (let rep = 0; rep < 2; rep++) {
  for (const g of [64, 169]) r.push(`A g=${g} ${(await time({ name: 'A', code: A, buffers: bufs, ro: 3, wg: [g, 1, 1] })).toFixed(2)} cpu ${lastCpu.toFixed(2)}`);
  r.push(`A2 g=169 ${(await time({ name: 'A2', code: A2, buffers: bufs, ro: 3, wg: [169, 1, 1] })).toFixed(2)} cpu ${lastCpu.toFixed(2)}`);
  r.push(`A wg32 g=338 ${(await time({ name: 'A', code: A, constants: { WG: 32 }, buffers: bufs, ro: 3, wg: [338, 1, 1] })).toFixed(2)} cpu ${lastCpu.toFixed(2)}`);
  r.push(`B rows13 ${(await time({ name: 'B', code: Bk, buffers: bufs, ro: 3, wg: [64, 1, 1] })).toFixed(2)} cpu ${lastCpu.toFixed(2)}`);
  r.push(`Bg rows13 ${(await time({ name: 'B', code: Bg, buffers: bufs, ro: 3, wg: [64, 1, 1] })).toFixed(2)} cpu ${lastCpu.toFixed(2)}`);
  r.push(`B rows1 ${(await time({ name: 'B', code: Bk, constants: { ROWS: 1 }, buffers: bufs, ro: 3, wg: [64 * 13, 1, 1] })).toFixed(2)} cpu ${lastCpu.toFixed(2)}`);
}
console.log(gpu.backend, r.join('\n'));
