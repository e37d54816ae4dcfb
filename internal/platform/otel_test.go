package platform

import "testing"

// Tracing is turned on for the whole platform as for one process: the
// OTEL_* variables of the runner's environment reach every function
// (Config.Env winning over them), and each process names its service.
func TestOTELVariablesReachEveryProcess(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "5000")
	p := &Platform{cfg: Config{Env: map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "100"}}}
	env := p.FunctionEnv()
	for k, want := range map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_BSP_SCHEDULE_DELAY": "100"} {
		if got := env[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if _, ok := otelEnv()["PATH"]; ok {
		t.Error("otelEnv passes on more than OTEL_* variables")
	}
}
