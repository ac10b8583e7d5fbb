package secagg_test

import (
	"errors"
	"math"
	"testing"

	"github.com/cohortfl/cohort/secagg"
)

func TestNewParamsRejects(t *testing.T) {
	mod := func(f func(*secagg.ParametersLiteral)) secagg.ParametersLiteral {
		l := secagg.DefaultCKKS()
		f(&l)
		return l
	}
	tests := []struct {
		name string
		lit  secagg.ParametersLiteral
	}{
		{"logQ too big for logN=11", mod(func(l *secagg.ParametersLiteral) { l.LogN = 11 })},
		{"logQ 110 > 109 for logN=12", mod(func(l *secagg.ParametersLiteral) { l.LogQ = []int{55, 55} })},
		{"unsupported logN", mod(func(l *secagg.ParametersLiteral) { l.LogN = 10 })},
		{"empty LogQ", mod(func(l *secagg.ParametersLiteral) { l.LogQ = nil })},
		{"unknown scheme", mod(func(l *secagg.ParametersLiteral) { l.Scheme = 9 })},
		{"smudging below 2^40", mod(func(l *secagg.ParametersLiteral) { l.SmudgingSigma = 1 << 20 })},
		{"scale overflows Q", mod(func(l *secagg.ParametersLiteral) { l.LogScale = 90 })},
		{"no scale fits", mod(func(l *secagg.ParametersLiteral) {
			l.LogScale = 0
			l.Encoding = secagg.Encoding{MaxParties: 1 << 20, ClipBound: 1e30}
		})},
		{"zero clip bound", mod(func(l *secagg.ParametersLiteral) { l.Encoding.ClipBound = 0 })},
		{"NaN clip bound", mod(func(l *secagg.ParametersLiteral) { l.Encoding.ClipBound = math.NaN() })},
		{"no parties", mod(func(l *secagg.ParametersLiteral) { l.Encoding.MaxParties = 0 })},
		{"BGV T above Q[0]", func() secagg.ParametersLiteral { l := secagg.DefaultBGV(); l.LogT = 60; return l }()},
		{"BGV f overflows T", func() secagg.ParametersLiteral { l := secagg.DefaultBGV(); l.FracBits = 30; return l }()},
	}
	for _, tc := range tests {
		p, err := secagg.NewParams(tc.lit)
		if !errors.Is(err, secagg.ErrBadParams) {
			t.Errorf("%s: NewParams = (%v, %v), want ErrBadParams", tc.name, p, err)
		}
		if err == nil || p.CiphertextBytes() != 0 {
			t.Errorf("%s: returned usable params together with an error", tc.name)
		}
	}
}

func TestNewParamsAccepts(t *testing.T) {
	p, err := secagg.NewParams(secagg.DefaultCKKS())
	if err != nil {
		t.Fatal(err)
	}
	if p.LogScale() != 70 || p.N() != 4096 || p.SmudgingSigma() != 1<<40 {
		t.Errorf("DefaultCKKS resolved to %v", p)
	}
	// Insecure smudging is allowed only when asked for.
	l := secagg.DefaultCKKS()
	l.SmudgingSigma, l.Insecure = 1<<20, true
	if _, err := secagg.NewParams(l); err != nil {
		t.Errorf("Insecure σ=2^20: %v", err)
	}
	// Derived CKKS scale satisfies log2(K·C·Δ) ≤ log2(Q) − 2 and is maximal.
	l = secagg.DefaultCKKS()
	l.LogScale = 0
	l.Encoding = secagg.Encoding{MaxParties: 1 << 15, ClipBound: 1 << 20}
	p, err = secagg.NewParams(l)
	if err != nil {
		t.Fatal(err)
	}
	if got, limit := p.LogScale(), 109-2-35; got > limit || got < limit-1 {
		t.Errorf("derived LogScale = %d, want %d or %d", got, limit-1, limit)
	}
	// BGV: default encoding gives K·C·2^f < T/4 with T≈2^40: f = 24 for K=1024, C=1e4.
	p, err = secagg.NewParams(secagg.DefaultBGV())
	if err != nil {
		t.Fatal(err)
	}
	if f := p.LogScale(); float64(1024)*(1e4*math.Exp2(float64(f))+0.5) >= math.Exp2(38) {
		t.Errorf("BGV FracBits=%d overflows T/4", f)
	}
	if p.LogScale() != 14 {
		t.Logf("BGV FracBits = %d", p.LogScale())
	}
}

func TestEpochValidate(t *testing.T) {
	m := func(id string) secagg.Member {
		return secagg.Member{ID: id, Public: secagg.PublicIdentity{KEM: make([]byte, 32), Verify: make([]byte, 32)}}
	}
	base := secagg.Epoch{RunID: "r", Epoch: 1, Members: []secagg.Member{m("a"), m("b"), m("c")}, Threshold: 2, MinClients: 2}
	if err := base.Validate(); err != nil {
		t.Fatalf("valid epoch: %v", err)
	}
	bad := map[string]func(e *secagg.Epoch){
		"t > n":         func(e *secagg.Epoch) { e.Threshold = 4 },
		"t = 1":         func(e *secagg.Epoch) { e.Threshold = 1 },
		"t = 0":         func(e *secagg.Epoch) { e.Threshold = 0 },
		"min clients 1": func(e *secagg.Epoch) { e.MinClients = 1 },
		"duplicate id":  func(e *secagg.Epoch) { e.Members = []secagg.Member{m("a"), m("a"), m("c")} },
		"empty run":     func(e *secagg.Epoch) { e.RunID = "" },
		"short KEM key": func(e *secagg.Epoch) { e.Members = []secagg.Member{m("a"), m("b"), {ID: "c"}} },
		"empty id":      func(e *secagg.Epoch) { e.Members = []secagg.Member{m("a"), m("b"), m("")} },
	}
	for name, f := range bad {
		e := base
		e.Members = append([]secagg.Member(nil), base.Members...)
		f(&e)
		if err := e.Validate(); !errors.Is(err, secagg.ErrBadEpoch) {
			t.Errorf("%s: Validate = %v, want ErrBadEpoch", name, err)
		}
	}
}

func TestCRSBoundToSession(t *testing.T) {
	a := secagg.CRS("run", 1)
	if a != secagg.CRS("run", 1) {
		t.Error("CRS is not deterministic")
	}
	for _, b := range []secagg.CRSSeed{secagg.CRS("run", 2), secagg.CRS("run2", 1), secagg.CRS("ru", 1)} {
		if a == b {
			t.Error("different sessions share a CRS")
		}
	}
}
