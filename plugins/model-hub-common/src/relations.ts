/**
 * A relation from a model to a model it was derived from (fine-tuned,
 * quantized, distilled or merged from). Its reverse is
 * {@link RELATION_DERIVATION_OF}.
 *
 * @public
 */
export const RELATION_DERIVED_FROM = 'derivedFrom';

/**
 * A relation from a base model to a model derived from it. Its reverse is
 * {@link RELATION_DERIVED_FROM}.
 *
 * @public
 */
export const RELATION_DERIVATION_OF = 'derivationOf';
