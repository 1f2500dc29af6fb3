/**
 * Confirms a leader's fencing token against its lease in the HA store, for a TaskManager's
 * `FencingTokens`: a token higher than any it has seen counts only if it is the current lease's.
 */
import { BlockRole } from "../core/mod.ts";
import type { HaServices, LeaderElection } from "../ha/mod.ts";
import { RM_FENCING_SCOPE } from "../protocol/mod.ts";
import type { FencingTokenVerifier } from "../rpc/mod.ts";

export interface LeaseTokenVerifierOptions {
  /** Names this process; the reader's election is never started, so it never writes a lease. */
  holder: string;
  /** The cluster's lease length (`ha.lease`): what a reader waits for at least. */
  leaseMs: number;
  /** Pause before the one re-read of a store that looks behind the token. @default 100 */
  recheckMs?: number;
}

/** The leaders whose tokens a TaskManager takes, by fencing scope. */
const ROLE_OF_SCOPE: Readonly<Record<string, BlockRole>> = {
  [RM_FENCING_SCOPE]: BlockRole.RESOURCE_MANAGER,
};

export function leaseTokenVerifier(
  ha: HaServices,
  { holder, leaseMs, recheckMs = 100 }: LeaseTokenVerifierOptions,
): FencingTokenVerifier {
  // One reader per role, kept: it remembers when it first saw a lease, which bounds a forged one.
  const readers = new Map<BlockRole, LeaderElection>();
  const readerOf = (role: BlockRole) => {
    let reader = readers.get(role);
    if (!reader) {
      reader = ha.election({ role, holder: `${holder}/fencing-reader`, leaseMs });
      readers.set(role, reader);
    }
    return reader;
  };
  return async (scope, token) => {
    const role = ROLE_OF_SCOPE[scope];
    if (role === undefined) return false;
    const reader = readerOf(role);
    const lease = await reader.leader();
    if (lease?.token === token) return true;
    // A newer term's lease: the token is a deposed leader's.
    if (lease && lease.token > token) return false;
    // No live lease or an older one: the read may have come before the write that elected the
    // caller became visible (a replica behind its leader), so read once more before refusing.
    await new Promise((resolve) => setTimeout(resolve, recheckMs));
    return (await reader.leader())?.token === token;
  };
}
