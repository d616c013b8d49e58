package logroute

// Log loops: a handler that is, or wraps, one of the mesh's own would route
// every record back to the mesh. holdsOwn refuses it when the wrapping can
// be seen in its fields; the router's context mark (handler.go) breaks the
// loop when it cannot.

import (
	"log/slog"
	"reflect"
	"sync"
)

// maxHandlerDepth bounds how deep holdsOwn looks into a handler's fields.
const maxHandlerDepth = 8

// holdsOwn reports whether h is, or holds in its fields, a handler of this
// router, looking through pointers, interfaces, structs, slices and arrays
// up to maxHandlerDepth levels and never twice at one pointer. It reads only
// fields whose type can hold a handler (canHoldHandler): the configuration a
// wrapper is made with, not the records a handler keeps under its own lock.
func (r *Router) holdsOwn(h slog.Handler) bool {
	if h == nil {
		return false
	}
	seen := make(map[uintptr]bool)
	var walk func(v reflect.Value, depth int) bool
	walk = func(v reflect.Value, depth int) bool {
		if depth > maxHandlerDepth || !v.IsValid() || !canHoldHandler(v.Type()) {
			return false
		}
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return false
			}
			seen[v.Pointer()] = true
			if v.Type() == routedHandlerType {
				return (*routedHandler)(v.UnsafePointer()).r == r
			}
			return walk(v.Elem(), depth+1)
		case reflect.Interface:
			return !v.IsNil() && walk(v.Elem(), depth+1)
		case reflect.Struct:
			for i := range v.NumField() {
				if walk(v.Field(i), depth+1) {
					return true
				}
			}
		case reflect.Slice, reflect.Array:
			for i := range min(v.Len(), 64) {
				if walk(v.Index(i), depth+1) {
					return true
				}
			}
		}
		return false
	}
	return walk(reflect.ValueOf(h), 0)
}

// canHoldHandlerCache maps a type to whether canHoldHandler holds for it;
// shared by every router of the process, it only ever gains final answers.
var canHoldHandlerCache sync.Map // reflect.Type -> bool

// canHoldHandler reports whether a value of type t can hold a *routedHandler:
// t is that type, a non-empty interface it implements (such as
// slog.Handler), or a pointer, struct, slice or array built of such types.
// An empty interface (any) does not count: a handler keeps its own records
// in those.
func canHoldHandler(t reflect.Type) bool {
	if v, ok := canHoldHandlerCache.Load(t); ok {
		return v.(bool)
	}
	ok, _ := canHold(t, make(map[reflect.Type]bool))
	return ok
}

// canHold computes canHoldHandler for t. A recursive type meets itself while
// its answer is still open; that meeting counts as false, and an answer that
// depended on one is not final (sure is false) unless it is true, so only
// final answers are cached.
func canHold(t reflect.Type, open map[reflect.Type]bool) (ok, sure bool) {
	if v, cached := canHoldHandlerCache.Load(t); cached {
		return v.(bool), true
	}
	if open[t] {
		return false, false
	}
	open[t] = true
	defer delete(open, t)
	sure = true
	part := func(u reflect.Type) bool {
		o, s := canHold(u, open)
		sure = sure && s
		return o
	}
	switch t.Kind() {
	case reflect.Pointer:
		ok = t == routedHandlerType || part(t.Elem())
	case reflect.Interface:
		ok = t.NumMethod() > 0 && routedHandlerType.Implements(t)
	case reflect.Struct:
		for i := range t.NumField() {
			if part(t.Field(i).Type) {
				ok = true
				break
			}
		}
	case reflect.Slice, reflect.Array:
		ok = part(t.Elem())
	}
	if ok || sure || len(open) == 1 { // the root's answer is final too
		canHoldHandlerCache.Store(t, ok)
		return ok, true
	}
	return ok, false
}

// routedHandlerType is the type of the handler inside every Router's loggers.
var routedHandlerType = reflect.TypeFor[*routedHandler]()
