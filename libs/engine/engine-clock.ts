import { Injectable } from '@nestjs/common';

/** The engine's notion of now (epoch ms); a provider of its own so tests can move time instead of sleeping. */
@Injectable()
export class EngineClock {
  now(): number {
    return Date.now();
  }
}
