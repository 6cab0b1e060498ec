;; Grows linear memory by 16 MiB (256 pages) per step until the host refuses.
;; Should a growth ever fail quietly (-1), it keeps trying, so only a trap ends it.
;; A core module exporting every function of leasebox:provider/provider@0.1.0
;; with its canonical-ABI signature; see README.md.
(module
  (memory (export "memory") 1)
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

  (func $hostile
    (loop $grow
      (drop (memory.grow (i32.const 256)))
      (br $grow)))

  (func (export "leasebox:provider/provider@0.1.0#validate-config") (param i32 i32) (result i32)
    call $hostile
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#config-schema") (result i32)
    call $hostile
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#probe") (param i32 i32 i32 i32) (result i32)
    call $hostile
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#plan") (param i32) (result i32)
    call $hostile
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#acquire-lease") (param i32) (result i32)
    call $hostile
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#realize-workspace") (param i32) (result i32)
    call $hostile
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#execute") (param i32) (result i32)
    call $hostile
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#release-lease") (param i32) (result i32)
    call $hostile
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#resume-lease") (param i32 i32 i32 i32 i32) (result i32)
    call $hostile
    unreachable)
  (func (export "leasebox:provider/provider@0.1.0#sweep") (param i32 i32 i32 i32 i32) (result i32)
    call $hostile
    unreachable)
)
