import { z } from 'zod';
import { versionNumber } from '../http/common.schemas';

/** Application names end up in Kubernetes labels and namespace names, so they are DNS-label-like. */
export const applicationName = z
  .string()
  .regex(
    /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
    'lowercase letters, digits and "-", at most 63, starting and ending with a letter or digit',
  );

const applicationFields = {
  email: z.email().nullable().optional(),
  description: z.string().max(10_000).nullable().optional(),
};

/** Spinnaker application keys beyond these (cloudProviders, trafficGuards, …) are kept as attributes. */
export const createApplicationBody = z.looseObject({ name: applicationName, ...applicationFields });
export const updateApplicationBody = z.looseObject({
  version: versionNumber.describe('the version you read; a stale one gets 409'),
  ...applicationFields,
});

export const applicationView = z.looseObject({
  name: z.string(),
  email: z.string().nullable(),
  description: z.string().nullable(),
  version: z.number().int(),
  createTs: z.string().describe('epoch milliseconds, as Spinnaker serves them'),
  updateTs: z.string(),
  lastModifiedBy: z.string(),
});
