// augment_images: random views of a batch, each an affine warp (rotation, scale, shear, shift) with an erased box.
//   views [V, C, S, S] from images [B, C, S, S]; view m shows image m % B through transform t = transforms[m·10 ..]:
//   for output pixel (i, j), with u = j − (S−1)/2 and v = i − (S−1)/2 (centred coordinates),
//     x = t0·u + t1·v + t4 + (S−1)/2,   y = t2·u + t3·v + t5 + (S−1)/2     (the inverse map: output → source)
//     value = bilinear(images[m % B, c], x, y), pixels outside the image read as 0
//     value = 0 where t6 ≤ j < t8 and t7 ≤ i < t9 (the erased box; an empty box erases nothing)
// Bilinear sampling is continuous in (x, y), so f32 rounding of the coordinates moves values only by rounding.
override CHANNELS: u32;
override SIZE: u32;
override WG: u32;

struct Params {
  batch: u32,
  views: u32,
}

@group(0) @binding(0) var<storage, read> images: array<f32>;
@group(0) @binding(1) var<storage, read> transforms: array<f32>;
@group(0) @binding(2) var<storage, read_write> augmented: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn pixel_at(base: u32, x: i32, y: i32) -> f32 {
  if (x < 0 || y < 0 || x >= i32(SIZE) || y >= i32(SIZE)) { return 0.0; }
  return images[base + u32(y) * SIZE + u32(x)];
}

// One invocation per output pixel, grid-stride.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let planePixels = SIZE * SIZE;
  let centre = f32(SIZE - 1u) * 0.5;
  for (var index = wid.x * WG + lid; index < params.views * CHANNELS * planePixels; index += groups.x * WG) {
    let plane = index / planePixels;
    let pixel = index % planePixels;
    let view = plane / CHANNELS;
    let base = ((view % params.batch) * CHANNELS + plane % CHANNELS) * planePixels;
    let i = pixel / SIZE;
    let j = pixel % SIZE;
    let t = view * 10u;
    let fi = f32(i);
    let fj = f32(j);
    if (fj >= transforms[t + 6u] && fj < transforms[t + 8u] && fi >= transforms[t + 7u] && fi < transforms[t + 9u]) {
      augmented[index] = 0.0;
      continue;
    }
    let u = fj - centre;
    let v = fi - centre;
    let x = transforms[t] * u + transforms[t + 1u] * v + transforms[t + 4u] + centre;
    let y = transforms[t + 2u] * u + transforms[t + 3u] * v + transforms[t + 5u] + centre;
    let x0 = floor(x);
    let y0 = floor(y);
    let fx = x - x0;
    let fy = y - y0;
    let ix = i32(x0);
    let iy = i32(y0);
    let top = mix(pixel_at(base, ix, iy), pixel_at(base, ix + 1, iy), fx);
    let bottom = mix(pixel_at(base, ix, iy + 1), pixel_at(base, ix + 1, iy + 1), fx);
    augmented[index] = mix(top, bottom, fy);
  }
}
