package function

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// maxExpr bounds an expression's length and nesting: a chat message is
// not a program.
const (
	maxExpr  = 200
	maxDepth = 32
)

// errNotArithmetic means the text is not an expression at all (as opposed
// to one that fails, like a division by zero).
var errNotArithmetic = errors.New("not arithmetic")

// evaluate computes an arithmetic expression: numbers (decimals too),
// + - * / % ^ (power, right-associative), unary minus and parentheses,
// with the usual precedence. "2+3*4" is 14.
func evaluate(expr string) (float64, error) {
	if len(expr) > maxExpr {
		return 0, fmt.Errorf("the expression is longer than %d characters", maxExpr)
	}
	p := &parser{s: strings.ReplaceAll(expr, " ", "")}
	if p.s == "" {
		return 0, errNotArithmetic
	}
	v, err := p.sum(0)
	if err != nil {
		return 0, err
	}
	if p.i != len(p.s) {
		return 0, errNotArithmetic
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, errors.New("the result is not a finite number")
	}
	return v, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// sum = product {("+" | "-") product}
func (p *parser) sum(depth int) (float64, error) {
	v, err := p.product(depth)
	for err == nil && (p.peek() == '+' || p.peek() == '-') {
		op := p.s[p.i]
		p.i++
		var w float64
		if w, err = p.product(depth); op == '+' {
			v += w
		} else {
			v -= w
		}
	}
	return v, err
}

// product = power {("*" | "/" | "%") power}
func (p *parser) product(depth int) (float64, error) {
	v, err := p.power(depth)
	for err == nil && (p.peek() == '*' || p.peek() == '/' || p.peek() == '%' || p.peek() == 'x') {
		op := p.s[p.i]
		p.i++
		var w float64
		if w, err = p.power(depth); err != nil {
			break
		}
		switch op {
		case '*', 'x':
			v *= w
		case '/', '%':
			if w == 0 {
				return 0, errors.New("division by zero")
			}
			if op == '/' {
				v /= w
			} else {
				v = math.Mod(v, w)
			}
		}
	}
	return v, err
}

// power = unary ["^" power]
func (p *parser) power(depth int) (float64, error) {
	v, err := p.unary(depth)
	if err != nil || p.peek() != '^' {
		return v, err
	}
	p.i++
	w, err := p.power(depth + 1)
	if depth > maxDepth {
		return 0, errors.New("the expression is nested too deeply")
	}
	return math.Pow(v, w), err
}

// unary = "-" unary | "(" sum ")" | number
func (p *parser) unary(depth int) (float64, error) {
	if depth > maxDepth {
		return 0, errors.New("the expression is nested too deeply")
	}
	switch c := p.peek(); {
	case c == '-':
		p.i++
		v, err := p.unary(depth + 1)
		return -v, err
	case c == '+':
		p.i++
		return p.unary(depth + 1)
	case c == '(':
		p.i++
		v, err := p.sum(depth + 1)
		if err != nil {
			return 0, err
		}
		if p.peek() != ')' {
			return 0, errNotArithmetic
		}
		p.i++
		return v, nil
	}
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] >= '0' && p.s[p.i] <= '9' || p.s[p.i] == '.') {
		p.i++
	}
	if start == p.i {
		return 0, errNotArithmetic
	}
	return strconv.ParseFloat(p.s[start:p.i], 64)
}

// formatNumber writes integers without a decimal point and others with
// up to 12 significant digits.
func formatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 12, 64)
}
