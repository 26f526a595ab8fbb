/** A NATS address as it may be shown: credentials before the host replaced by ***. */
export function redactNatsUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/gu, '//***@');
}
