// conv2d_forward: output[n,o,y,x] = bias[o] + Σ_c,i,j input[n,c, y·stride+i−pad, x·stride+j−pad] · weight[o,c,i,j] (zero outside), then max(·,0) if RELU
override WG: u32 = 64;
override RELU: bool = false;

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
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// Output channels per invocation: each input value read is used for this many outputs.
const CHANNELS = 8u;

// Each workgroup covers WG pixels of CHANNELS output planes of one image, so weight and bias reads are the same
// for the whole workgroup.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let outPlane = params.outHeight * params.outWidth;
  let tiles = (outPlane + WG - 1u) / WG;
  let channelGroups = (params.outChannels + CHANNELS - 1u) / CHANNELS;
  let group = wid.x + wid.y * groups.x;
  let planeGroup = group / tiles;
  let pixel = (group % tiles) * WG + lid;
  if (planeGroup >= params.batch * channelGroups || pixel >= outPlane) { return; }
  let n = planeGroup / channelGroups;
  let firstChannel = (planeGroup % channelGroups) * CHANNELS;
  let k = params.kernelSize;
  let top = i32((pixel / params.outWidth) * params.stride) - i32(params.padding);
  let left = i32((pixel % params.outWidth) * params.stride) - i32(params.padding);
  let h = i32(params.height);
  let w = i32(params.width);
  let weightsPerChannel = params.inChannels * k * k;
  var sums: array<f32, CHANNELS>;
  for (var q = 0u; q < CHANNELS; q++) { sums[q] = bias[min(firstChannel + q, params.outChannels - 1u)]; }
  for (var c = 0u; c < params.inChannels; c++) {
    let inputPlane = (n * params.inChannels + c) * params.height * params.width;
    for (var i = 0u; i < k; i++) {
      let y = top + i32(i);
      for (var j = 0u; j < k; j++) {
        let x = left + i32(j);
        // Padding reads as zero; the clamped read keeps every load in bounds without branching.
        let inside = y >= 0 && y < h && x >= 0 && x < w;
        let value = select(0.0, input[inputPlane + u32(clamp(y, 0, h - 1) * w + clamp(x, 0, w - 1))], inside);
        let tap = (c * k + i) * k + j;
        for (var q = 0u; q < CHANNELS; q++) {
          // Channels past the last one (outChannels not a multiple of CHANNELS) read a valid weight and are never stored.
          sums[q] += value * weight[min(firstChannel + q, params.outChannels - 1u) * weightsPerChannel + tap];
        }
      }
    }
  }
  for (var q = 0u; q < CHANNELS; q++) {
    let o = firstChannel + q;
    if (o < params.outChannels) {
      output[(n * params.outChannels + o) * outPlane + pixel] = select(sums[q], max(sums[q], 0.0), RELU);
    }
  }
}
