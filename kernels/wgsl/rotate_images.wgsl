// rotate_images: rotated[4n+k, c] = rot90(images[n, c], k) counter-clockwise, i.e. rotated[4n+k,c,i,j] = images[n,c] at (j, S−1−i), (S−1−i, S−1−j), (S−1−j, i) for k = 1, 2, 3
override WG: u32 = 64;

struct Params {
  batch: u32,
  channels: u32,
  size: u32,
}

@group(0) @binding(0) var<storage, read> images: array<f32>;
@group(0) @binding(1) var<storage, read_write> rotated: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

// Each workgroup covers WG pixels of one output plane, so the turn is the same for the whole workgroup.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let s = params.size;
  let planePixels = s * s;
  let tiles = (planePixels + WG - 1u) / WG;
  let group = wid.x + wid.y * groups.x;
  let plane = group / tiles;
  let pixel = (group % tiles) * WG + lid;
  if (plane >= 4u * params.batch * params.channels || pixel >= planePixels) { return; }
  let sample = plane / params.channels;
  let quarterTurns = sample % 4u;
  let source = ((sample / 4u) * params.channels + plane % params.channels) * planePixels;
  let i = pixel / s;
  let j = pixel % s;
  let last = s - 1u;
  var row = i;
  var col = j;
  switch quarterTurns {
    case 1u: { row = j; col = last - i; }
    case 2u: { row = last - i; col = last - j; }
    case 3u: { row = last - j; col = i; }
    default: {}
  }
  rotated[plane * planePixels + pixel] = images[source + row * s + col];
}
