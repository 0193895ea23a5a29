// rotate_images: rotated[4n+k, c] = rot90(images[n, c], k) counter-clockwise, i.e. rotated[4n+k,c,i,j] = images[n,c] at (j, S−1−i), (S−1−i, S−1−j), (S−1−j, i) for k = 1, 2, 3
//
// The image shape is an override constant: llvmpipe (the CPU driver) divides by a runtime value one SIMD lane at a
// time and by a constant with a multiply. Only the batch is a runtime param.
override CHANNELS: u32;
override SIZE: u32;
override WG: u32;

struct Params {
  batch: u32,
}

@group(0) @binding(0) var<storage, read> images: array<f32>;
@group(0) @binding(1) var<storage, read_write> rotated: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

// One invocation per output pixel.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let planePixels = SIZE * SIZE;
  for (var index = wid.x * WG + lid; index < 4u * params.batch * CHANNELS * planePixels; index += groups.x * WG) {
    let plane = index / planePixels;
    let pixel = index % planePixels;
    let sample = plane / CHANNELS;
    let source = ((sample / 4u) * CHANNELS + plane % CHANNELS) * planePixels;
    let i = pixel / SIZE;
    let j = pixel % SIZE;
    let last = SIZE - 1u;
    var row = i;
    var col = j;
    switch sample % 4u {
      case 1u: { row = j; col = last - i; }
      case 2u: { row = last - i; col = last - j; }
      case 3u: { row = last - j; col = i; }
      default: {}
    }
    rotated[index] = images[source + row * SIZE + col];
  }
}
