;; Counts its calls in its own memory: `config-schema` adds one to the
;; digit its data segment puts at address 600 (initially "5") and returns
;; that one-byte string. An instance that starts from the module's initial
;; memory answers "6" every time; a slot that kept a previous call's memory
;; would answer "7", one reset to zeros instead of to the data "\01".
;; A core module exporting every function of leasebox:provider/provider@0.1.0
;; with its canonical-ABI signature; see README.md.
(module
  (memory (export "memory") 1)
  (data (i32.const 600) "5")
  (global $heap (mut i32) (i32.const 1024))

  ;; Bump allocator: (old-ptr old-size align new-size) -> ptr.
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $ptr i32)
    (local.set $ptr
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get 2))))
    (global.set $heap (i32.add (local.get $ptr) (local.get 3)))
    (local.get $ptr))

  ;; -> pointer to (string pointer, string length) at 700.
  (func (export "leasebox:provider/provider@0.1.0#config-schema") (result i32)
    (i32.store8 (i32.const 600)
      (i32.add (i32.load8_u (i32.const 600)) (i32.const 1)))
    (i32.store (i32.const 700) (i32.const 600))
    (i32.store (i32.const 704) (i32.const 1))
    (i32.const 700))

  (func (export "leasebox:provider/provider@0.1.0#validate-config") (param i32 i32) (result i32)
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#probe") (param i32 i32 i32 i32) (result i32)
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#plan") (param i32) (result i32)
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#acquire-lease") (param i32) (result i32)
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#realize-workspace") (param i32) (result i32)
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#execute") (param i32) (result i32)
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#release-lease") (param i32) (result i32)
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#resume-lease") (param i32 i32 i32 i32 i32) (result i32)
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#sweep") (param i32 i32 i32 i32 i32) (result i32)
    unreachable)
)
