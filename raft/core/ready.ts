import type { Message } from './messages.js';
import type { Entry, HardState, ReadState, Snapshot, SoftState } from './types.js';

/**
 * Everything the core wants done, handed out by RaftCore.ready(). The driver:
 *  1. sends `messages` (they promise nothing about this node's disk);
 *  2. persists `snapshot`, then `entries` (replacing any conflicting suffix),
 *     then `hardState`, as one atomic write, fsynced when `mustSync`;
 *  3. sends `messagesAfterPersist` (vote and append responses);
 *  4. restores the state machine from `snapshot`, applies `committedEntries`
 *     in order (calling applyConfChange for membership changes), serves
 *     `readStates` once the applied index reaches them;
 *  5. calls advance().
 */
export interface Ready {
  /** Set when leader or role changed since the previous Ready. */
  readonly softState: SoftState | null;
  /** Set when term, vote or commit changed since the previous Ready. */
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly messagesAfterPersist: readonly Message[];
  readonly readStates: readonly ReadState[];
  /** Term, vote or entries changed: the write must be durable before step 3. */
  readonly mustSync: boolean;
}
