// maxpool2d_forward: output[n,c,y,x] = max_i,j input[n,c, y·STRIDE+i, x·STRIDE+j]; argmax = flat input index of the first max
//
// Shapes are override constants: llvmpipe (the CPU driver) divides by a runtime value one SIMD lane at a time and by
// a constant with a multiply. Only the number of planes is a runtime param.
override H: u32;
override W: u32;
override K: u32;
override STRIDE: u32;
override WG: u32;

override OUT_H: u32 = (H - K) / STRIDE + 1u;
override OUT_W: u32 = (W - K) / STRIDE + 1u;

struct Params {
  planes: u32,
}

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;
@group(0) @binding(2) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

// One invocation per output pixel.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let outPlane = OUT_H * OUT_W;
  for (var index = wid.x * WG + lid; index < params.planes * outPlane; index += groups.x * WG) {
    let plane = index / outPlane;
    let pixel = index % outPlane;
    let first = (plane * H + (pixel / OUT_W) * STRIDE) * W + (pixel % OUT_W) * STRIDE;
    var best = input[first];
    var bestIndex = first;
    for (var i = 0u; i < K; i++) {
      for (var j = 0u; j < K; j++) {
        let at = first + i * W + j;
        let value = input[at];
        // Strictly greater: on ties the first in row-major window order wins.
        let better = value > best;
        best = select(best, value, better);
        bestIndex = select(bestIndex, at, better);
      }
    }
    output[index] = best;
    argmax[index] = bestIndex;
  }
}
