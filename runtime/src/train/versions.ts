// Model version names: v1, v2, ... each child one past its parent.
export function nextVersion(parent: string | undefined): string {
  if (!parent) return 'v1';
  const match = /^v(\d+)$/.exec(parent);
  return match ? `v${Number(match[1]) + 1}` : `${parent}.1`;
}
