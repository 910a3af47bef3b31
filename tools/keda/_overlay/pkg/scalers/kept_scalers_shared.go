// mesh's trimmed KEDA build keeps only the postgresql scaler; this holds what it shared with the
// scalers left out (in KEDA it is declared beside the Azure queue scaler).
package scalers

const externalMetricType = "External"
