// The one rule for label and metric names. Prometheus 2.x accepts only "legacy" names; 3.x accepts
// any UTF-8 name but still prints legacy ones unquoted, so both checks are needed by the parser, the
// printers, the config checks and the API.

/** Prometheus's legacy label-name syntax (model.LabelNameRE). */
export const LEGACY_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Prometheus's legacy metric-name syntax (model.MetricNameRE): colons allowed. */
export const LEGACY_METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function isLegacyLabelName(name: string): boolean {
  return LEGACY_LABEL_NAME.test(name);
}

export function isLegacyMetricName(name: string): boolean {
  return LEGACY_METRIC_NAME.test(name);
}
