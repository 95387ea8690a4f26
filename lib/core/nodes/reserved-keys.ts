/** Resource names starting with this are the library's own (guard keys, shared holders, fences). */
export const RESERVED_RESOURCE_PREFIX = '__redlock__:';

/** The key of one of the library's own records: under the user's prefix, never a resource name. */
export function libraryKey(keyPrefix: string, name: string): string {
  return keyPrefix + RESERVED_RESOURCE_PREFIX + name;
}
