/**
 * The form a secret is shown in when a human needs to recognise it: `cl****…**9f`. Values too short to
 * show any characters safely are shown as `****`.
 */
export function maskForDisplay(value: string): string {
  const chars = [...value];
  if (chars.length < 12) return '****';
  return `${chars.slice(0, 2).join('')}****…**${chars.slice(-2).join('')}`;
}
