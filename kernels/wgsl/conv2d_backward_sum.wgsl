// conv2d_backward_sum: gradWeight[o,t] (+)= Σ_slice partials[slice,o,t] for the TAPS = inChannels·k·k taps t, and
// gradBias[o] (+)= Σ_slice partials[slice,o,TAPS]: adds up the slices of conv2d_backward_weight.wgsl
override WG: u32 = 64;

struct Params {
  slices: u32,
  outChannels: u32,
  taps: u32,
  // 1: add to the gradients instead of overwriting them.
  accumulate: u32,
}

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> gradWeight: array<f32>;
@group(0) @binding(2) var<storage, read_write> gradBias: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// One invocation per (o, t), bias included: outChannels × (taps + 1) of them.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let row = params.taps + 1u;
  for (var index = wid.x * WG + lid; index < params.outChannels * row; index += groups.x * WG) {
    var sum = 0.0;
    for (var slice = 0u; slice < params.slices; slice++) { sum += partials[slice * params.outChannels * row + index]; }
    let o = index / row;
    let t = index % row;
    if (t < params.taps) {
      let at = o * params.taps + t;
      gradWeight[at] = select(sum, gradWeight[at] + sum, params.accumulate != 0u);
    } else {
      gradBias[o] = select(sum, gradBias[o] + sum, params.accumulate != 0u);
    }
  }
}
