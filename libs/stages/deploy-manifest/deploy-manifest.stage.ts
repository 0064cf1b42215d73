import { defineStage } from '@jibe/domain';
import { applyWavesTask, runPostSyncHooksTask } from './apply-waves.task';
import { deployManifestConfig, deployManifestOutputs, deployManifestState } from './deploy-manifest.config';
import { resolveManifestsTask } from './resolve-manifests.task';
import { cleanupTask, scaleDownOldTask, switchTrafficTask, waitForDeployedTask } from './traffic.tasks';

/**
 * Applies manifests (text or a baked artifact) with server-side apply, in waves, waits until everything is stable,
 * and with a strategy (redblack, highlander) deploys a new version `name-vNNN`, moves the Services to it in one
 * update once it is stable, then scales down and deletes older versions (Spinnaker's Deploy (Manifest)).
 */
export const deployManifestStage = defineStage({
  type: 'deployManifest',
  description: 'Apply Kubernetes manifests, wait until they are stable, and optionally switch traffic red/black.',
  config: deployManifestConfig,
  state: deployManifestState,
  outputs: deployManifestOutputs,
  tasks: [
    resolveManifestsTask,
    applyWavesTask,
    waitForDeployedTask,
    switchTrafficTask,
    runPostSyncHooksTask,
    scaleDownOldTask,
    cleanupTask,
  ],
});
