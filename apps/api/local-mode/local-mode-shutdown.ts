import { type KubeSim } from '@jibe/kube-sim';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';

/** Stops local mode's simulated clusters after everything that talks to them has shut down. */
@Injectable()
export class LocalModeShutdown implements OnApplicationShutdown {
  private sim: KubeSim | undefined;

  register(sim: KubeSim): void {
    this.sim = sim;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sim?.stop();
  }
}
