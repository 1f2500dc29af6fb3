/** What the probe jobs record of an action: "allowed", or the error code that refused it. */
export function attempt(what: () => unknown): string {
  try {
    what();
    return "allowed";
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  }
}
