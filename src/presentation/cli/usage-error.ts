/** A mistake in how the command was called: one line on stderr, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * A parser for an argument or option that may not be empty (or blank): an empty capability, id,
 * filter or cursor is a mistake in the call, said at once (exit 2), with nothing sent or opened.
 */
export function nonEmpty(name: string) {
  return (value: string): string => {
    if (value.trim() === '') throw new UsageError(`${name} must not be empty${value === '' ? '' : ` or blank, got '${value}'`}`);
    return value;
  };
}
