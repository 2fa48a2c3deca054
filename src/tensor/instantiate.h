/* Instantiates a template of typed loops once per float element type: define
 * TG__TEMPLATE as the template's file name ("window_impl.h") and include this file. The
 * template sees T (float, then double), F(name) (name_f32, then name_f64) and EXP (expf,
 * then exp), written once so that a sanitizer or debugger points at the template's line
 * (a multi-line macro would point at its instantiation). No include guard: it is meant
 * to be included once per template. */
#define T float
#define F(name) name##_f32
#define EXP expf
#include TG__TEMPLATE
#undef T
#undef F
#undef EXP
#define T double
#define F(name) name##_f64
#define EXP exp
#include TG__TEMPLATE
#undef T
#undef F
#undef EXP
#undef TG__TEMPLATE
