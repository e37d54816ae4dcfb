package function

import (
	"strings"
	"testing"
)

func TestEvaluate(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    string
		wantErr string
	}{
		{"2+3*4", "14", ""},
		{"(2+3)*4", "20", ""},
		{"2^3^2", "512", ""},
		{"-2^2", "4", ""},
		{"10/4", "2.5", ""},
		{"7 % 3", "1", ""},
		{"1.5 + 2", "3.5", ""},
		{"3x4", "12", ""},
		{"0.1+0.2", "0.3", ""},
		{"1/0", "", "division by zero"},
		{"2+", "", "not arithmetic"},
		{"hello", "", "not arithmetic"},
		{"(1+2", "", "not arithmetic"},
		{"", "", "not arithmetic"},
		{strings.Repeat("(", 40) + "1" + strings.Repeat(")", 40), "", "nested too deeply"},
		{strings.Repeat("1+", 150) + "1", "", "longer than"},
		{"10^400", "", "not a finite number"},
	} {
		v, err := evaluate(c.in)
		switch {
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("evaluate(%q) = %v, %v; want error %q", c.in, v, err, c.wantErr)
		case c.wantErr == "" && (err != nil || formatNumber(v) != c.want):
			t.Errorf("evaluate(%q) = %v, %v; want %s", c.in, v, err, c.want)
		}
	}
}

func TestAnswer(t *testing.T) {
	for _, c := range []struct {
		in, want string
	}{
		{"2+3*4", "2+3*4 = 14"},
		{"What is 6*7?", "6*7 = 42"},
		{"how many messages?", "This conversation has 9 messages; yours is #9."},
		{"Who is here?", "2 members: ann, calc."},
		{"1/0", "1/0: division by zero."},
		{"help", help},
		{"tell me a joke", "I didn't understand that. " + help},
	} {
		if got := answer(question{Seq: 9, Text: c.in, Members: []string{"ann", "calc"}}); got != c.want {
			t.Errorf("answer(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
