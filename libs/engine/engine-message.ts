import { z } from 'zod';

/**
 * The queue messages. They carry ids and the sequence number of the state they were sent for, nothing else: a
 * message is a hint to look at Postgres, and one whose `seq` no longer matches the row's `due_seq` is stale.
 */
/**
 * StartExecution, StartStage and RunTask move one row forward; WakeStage asks a stage waiting on something else (a
 * child pipeline) to look again now. Stages complete inside the handler that ran their last task, and executions
 * inside the handler that finished their last stage, so they need no messages of their own.
 */
export const MESSAGE_KINDS = ['StartExecution', 'StartStage', 'RunTask', 'WakeStage'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

export const engineMessageSchema = z.object({
  kind: z.enum(MESSAGE_KINDS),
  executionId: z.string().min(1),
  stageId: z.string().min(1).optional(),
  seq: z.number().int().min(0),
});
export type EngineMessage = z.infer<typeof engineMessageSchema>;

/** A message to send once the transaction that decided it has committed. */
export interface OutgoingMessage extends EngineMessage {
  readonly delayMs: number;
}

/**
 * Deterministic job ids: sending the same step twice (a retry, the sweeper racing a slow worker) is deduplicated by
 * BullMQ, and a new step of the same row gets a new id because its seq grew.
 */
export function jobIdOf(message: EngineMessage): string {
  return `${message.kind}.${message.stageId ?? message.executionId}.${message.seq}`;
}
