;; A component that exports nothing: it cannot be a policy module.
(component)
