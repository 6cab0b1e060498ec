;; A component built for a newer contract: it imports
;; leasebox:provider/logging@0.9.0. The host must refuse it by name before
;; linking, not with a generic link error.
(component
  (import "leasebox:provider/logging@0.9.0" (instance))
)
