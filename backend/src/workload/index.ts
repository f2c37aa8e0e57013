/** Realistic workloads with ground truth, for tests, benchmarks and demos (`weft generate`). */
export {
  PaymentWorkload, streamPayment, generatePayment, DEFAULT_MIX, DEFAULT_START_MS, type PaymentOptions,
} from './payment.js';
export {
  SCENARIOS, PAYMENT_STEPS, ID_FIELDS, recordId, paymentVerdict, emptyCounts,
  type Scenario, type PaymentStep, type StepCounts, type TruthFields, type TruthSession, type PaymentTruth, type TruthSeverity,
} from './truth.js';
export {
  scorePayment, describeScore,
  type PaymentScore, type ScoreInput, type ScoredSession, type ScoredOrphan, type ScoredError, type TruthRef,
} from './score.js';
export { Random } from './random.js';
