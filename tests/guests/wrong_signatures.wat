;; A component that exports every function of
;; leasebox:provider/provider@0.2.0 by name, each with the type
;; `func()`: its names link, its types match none of the contract's.
(component
  (core module $m
    (func (export "nothing")))
  (core instance $i (instantiate $m))
  (func $nothing (canon lift (core func $i "nothing")))
  (instance $provider
    (export "validate-config" (func $nothing))
    (export "config-schema" (func $nothing))
    (export "probe" (func $nothing))
    (export "plan" (func $nothing))
    (export "acquire-lease" (func $nothing))
    (export "realize-workspace" (func $nothing))
    (export "execute" (func $nothing))
    (export "release-lease" (func $nothing))
    (export "resume-lease" (func $nothing))
    (export "sweep" (func $nothing))
    (export "renew-lease" (func $nothing))
    (export "list-leases" (func $nothing))
    (export "get-lease-status" (func $nothing)))
  (export "leasebox:provider/provider@0.2.0" (instance $provider)))
