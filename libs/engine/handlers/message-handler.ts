import { type EngineMessage, type MessageKind } from '../engine-message';

/** One handler per queue message kind (Orca's design). Handlers must be idempotent: a repeated message changes nothing. */
export abstract class MessageHandler {
  abstract readonly kind: MessageKind;
  abstract handle(message: EngineMessage): Promise<void>;
}

/** DI token of every {@link MessageHandler}. */
export const MESSAGE_HANDLERS = Symbol('MESSAGE_HANDLERS');
