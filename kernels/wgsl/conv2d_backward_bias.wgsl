// conv2d_backward_bias: gradBias[o] (+)= Σ_n,y,x gradOutput[n,o,y,x]
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

@group(0) @binding(0) var<storage, read> gradOutput: array<f32>;
@group(0) @binding(1) var<storage, read_write> gradBias: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> partial: array<f32, WG>;

// Each invocation sums CHUNK terms at a time before adding them to its total: a float32 sum of up to
// batch × outH × outW terms loses far less to rounding in two levels than in one running sum.
const CHUNK = 32u;

// One workgroup per output channel: its invocations stride over batch × output pixels, then a tree reduction (WG a power of two).
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let o = wid.x + wid.y * groups.x;
  if (o >= params.outChannels) { return; }
  let outPlane = params.outHeight * params.outWidth;

  // (n, pixel) of item t = n·outPlane + pixel, advanced by WG each step with a carry instead of a division.
  var n = lid / outPlane;
  var pixel = lid % outPlane;
  let stepN = WG / outPlane;
  let stepPixel = WG % outPlane;
  var sum = 0.0;
  let total = params.batch * outPlane;
  for (var start = 0u; start < total; start += WG * CHUNK) {
    var chunk = 0.0;
    for (var t = start + lid; t < min(start + WG * CHUNK, total); t += WG) {
      chunk += gradOutput[(n * params.outChannels + o) * outPlane + pixel];
      pixel += stepPixel;
      let carry = pixel >= outPlane;
      pixel = select(pixel, pixel - outPlane, carry);
      n += stepN + select(0u, 1u, carry);
    }
    sum += chunk;
  }

  partial[lid] = sum;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) { partial[lid] += partial[lid + half]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    if (ACCUMULATE) {
      gradBias[o] += partial[0];
    } else {
      gradBias[o] = partial[0];
    }
  }
}
