// conv2d_backward_weight: gradWeight[o,c,i,j] (+)= Σ_n,y,x gradOutput[n,o,y,x] · input[n,c, y·stride+i−pad, x·stride+j−pad] (zero outside)
override WG: u32 = 64;
override ACCUMULATE: bool = false;

struct Params {
  batch: u32,
  inChannels: u32,
  outChannels: u32,
  height: u32,
  width: u32,
  kernelSize: u32,
  stride: u32,
  padding: u32,
  outHeight: u32,
  outWidth: u32,
}

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> gradOutput: array<f32>;
@group(0) @binding(2) var<storage, read_write> gradWeight: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// Kernel taps (i, j) per workgroup, a whole 3×3 kernel: each gradOutput value read serves all of them.
const TAPS = 9u;
// Each invocation sums CHUNK terms at a time before adding them to its total: a float32 sum of up to
// batch × outH × outW terms loses far less to rounding in two levels than in one running sum.
const CHUNK = 32u;

var<workgroup> partial: array<array<f32, TAPS>, WG>;

// One workgroup per TAPS weights of one (o, c) kernel: its invocations stride over batch × output pixels, then a
// tree reduction (WG a power of two).
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let taps = params.kernelSize * params.kernelSize;
  let tapGroups = (taps + TAPS - 1u) / TAPS;
  let group = wid.x + wid.y * groups.x;
  if (group >= params.outChannels * params.inChannels * tapGroups) { return; }
  let kernelIndex = group / tapGroups;
  let firstTap = (group % tapGroups) * TAPS;
  let o = kernelIndex / params.inChannels;
  let c = kernelIndex % params.inChannels;
  let outW = params.outWidth;
  let outH = params.outHeight;
  let outPlane = outH * outW;
  let h = i32(params.height);
  let w = i32(params.width);
  // Offsets of each tap from a window's top-left input pixel; taps past the kernel repeat its last one and are not stored.
  var tapY: array<i32, TAPS>;
  var tapX: array<i32, TAPS>;
  for (var q = 0u; q < TAPS; q++) {
    let tap = min(firstTap + q, taps - 1u);
    tapY[q] = i32(tap / params.kernelSize) - i32(params.padding);
    tapX[q] = i32(tap % params.kernelSize) - i32(params.padding);
  }

  // (n, oy, ox) of item t = n·outPlane + oy·outW + ox, advanced by WG each step with carries instead of divisions.
  var n = lid / outPlane;
  var oy = (lid % outPlane) / outW;
  var ox = lid % outW;
  let stepN = WG / outPlane;
  let stepY = (WG % outPlane) / outW;
  let stepX = WG % outW;
  var sums = array<f32, TAPS>();
  let total = params.batch * outPlane;
  for (var start = 0u; start < total; start += WG * CHUNK) {
    var chunk = array<f32, TAPS>();
    for (var t = start + lid; t < min(start + WG * CHUNK, total); t += WG) {
      let g = gradOutput[(n * params.outChannels + o) * outPlane + oy * outW + ox];
      let inputPlane = (n * params.inChannels + c) * params.height * params.width;
      let top = i32(oy * params.stride);
      let left = i32(ox * params.stride);
      for (var q = 0u; q < TAPS; q++) {
        let y = top + tapY[q];
        let x = left + tapX[q];
        let inside = y >= 0 && y < h && x >= 0 && x < w;
        let value = input[inputPlane + u32(clamp(y, 0, h - 1) * w + clamp(x, 0, w - 1))];
        chunk[q] += g * select(0.0, value, inside);
      }
      ox += stepX;
      let carryX = ox >= outW;
      ox = select(ox, ox - outW, carryX);
      oy += stepY + select(0u, 1u, carryX);
      let carryY = oy >= outH;
      oy = select(oy, oy - outH, carryY);
      n += stepN + select(0u, 1u, carryY);
    }
    for (var q = 0u; q < TAPS; q++) { sums[q] += chunk[q]; }
  }

  partial[lid] = sums;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      for (var q = 0u; q < TAPS; q++) { partial[lid][q] += partial[lid + half][q]; }
    }
    workgroupBarrier();
  }
  if (lid < TAPS && firstTap + lid < taps) {
    let index = kernelIndex * taps + firstTap + lid;
    if (ACCUMULATE) {
      gradWeight[index] += partial[0][lid];
    } else {
      gradWeight[index] = partial[0][lid];
    }
  }
}
