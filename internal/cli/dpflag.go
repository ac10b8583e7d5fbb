package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cohortfl/cohort/coordinator"
)

// parseDP parses --dp values such as
//
//	client:epsilon=3,delta=1e-5,clip=1.0[,mode=central|distributed][,q=0.1][,sigma=1.2][,accountant=rdp|pld]
//	client:epsilon=3,delta=1e-5,clip=adaptive[,initial_clip=1][,quantile=0.5][,clip_lr=0.2][,count_noise=N]
//	record:epsilon=3,delta=1e-5,clip=1.0[,q=0.05][,sigma=1.1]
//
// into a DPConfig; each level may be given once.
func parseDP(values []string) (*coordinator.DPConfig, error) {
	if len(values) == 0 {
		return nil, nil
	}
	cfg := &coordinator.DPConfig{}
	for _, v := range values {
		level, rest, ok := strings.Cut(v, ":")
		if !ok {
			return nil, fmt.Errorf("--dp %q: want client:KEY=VALUE[,KEY=VALUE] or record:KEY=VALUE[,KEY=VALUE]", v)
		}
		kv := map[string]string{}
		for _, part := range strings.Split(rest, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("--dp %q: %q is not KEY=VALUE", v, part)
			}
			kv[k] = val
		}
		num := func(key string, required bool) (float64, error) {
			s, ok := kv[key]
			delete(kv, key)
			if !ok {
				if required {
					return 0, fmt.Errorf("--dp %q: %s is required", v, key)
				}
				return 0, nil
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return 0, fmt.Errorf("--dp %q: %s=%q is not a number", v, key, s)
			}
			return f, nil
		}
		var eps, delta, clip, q, sigma float64
		var err error
		if eps, err = num("epsilon", true); err != nil {
			return nil, err
		}
		if delta, err = num("delta", true); err != nil {
			return nil, err
		}
		adaptive := kv["clip"] == "adaptive"
		var quantile, clipLR, countNoise float64
		if adaptive {
			if level != "client" {
				return nil, fmt.Errorf("--dp %q: adaptive clipping is for client-level DP only", v)
			}
			delete(kv, "clip")
			if clip, err = num("initial_clip", false); err != nil {
				return nil, err
			}
			if clip == 0 {
				clip = 1
			}
			if quantile, err = num("quantile", false); err != nil {
				return nil, err
			}
			if clipLR, err = num("clip_lr", false); err != nil {
				return nil, err
			}
			if countNoise, err = num("count_noise", false); err != nil {
				return nil, err
			}
		} else if clip, err = num("clip", true); err != nil {
			return nil, err
		}
		if q, err = num("q", false); err != nil {
			return nil, err
		}
		if sigma, err = num("sigma", false); err != nil {
			return nil, err
		}
		switch level {
		case "client":
			if cfg.Client != nil {
				return nil, fmt.Errorf("--dp client given twice")
			}
			mode := kv["mode"]
			if mode == "" {
				mode = coordinator.DPCentral
			}
			acc := kv["accountant"]
			delete(kv, "mode")
			delete(kv, "accountant")
			cfg.Client = &coordinator.ClientDP{Epsilon: eps, Delta: delta, Clip: clip, Mode: mode, SampleRate: q,
				NoiseMultiplier: sigma, Accountant: acc, Adaptive: adaptive, TargetQuantile: quantile, ClipLR: clipLR,
				CountNoise: countNoise}
		case "record":
			if cfg.Record != nil {
				return nil, fmt.Errorf("--dp record given twice")
			}
			cfg.Record = &coordinator.RecordDP{Epsilon: eps, Delta: delta, Clip: clip, SampleRate: q, NoiseMultiplier: sigma}
		default:
			return nil, fmt.Errorf("--dp %q: level %q is unknown (want client or record)", v, level)
		}
		for k := range kv {
			return nil, fmt.Errorf("--dp %q: unknown key %q", v, k)
		}
	}
	return cfg, nil
}
