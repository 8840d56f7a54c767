/** The resumable token rotation workflow behind `clariguard rotate`. */
export {
  rotateToken,
  resumeRotation,
  finishRotation,
  rollbackRotation,
  RotationError,
  PREVIOUS_ROTATED_AT_TAG,
  type RotateOptions,
  type ResumeOptions,
  type FinishOptions,
  type RollbackOptions,
  type RotationReport,
  type RotationCheckpoint,
  type RotationStepName,
} from './rotate.js';
export {
  loadConsumers,
  parseConsumers,
  runConsumerCheck,
  consumersJsonSchema,
  DEFAULT_CONSUMER_TIMEOUT_MS,
  type ConsumerCheck,
  type ConsumerResult,
} from './consumers.js';
export { clariTokenValidator, clariBaseUrl, DEFAULT_CLARI_BASE_URL, type TokenValidator, type TokenCheck } from './validate.js';
