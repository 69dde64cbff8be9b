"""The figures the 2020 report published, as it gave them.

Pages and tables quote them beside ours; every other figure a page states is read from
the cache. Accuracies as fractions.
"""

KNN_RAW = 0.9714  # K = 4, distance-weighted, raw pixels (its 9,999 test images)
KNN_AUGMENTED = 0.9802  # the same vote over its 540,000 augmented training images
SPLINES_OWN_CODE = 0.14  # its spline code, scored on its first 100 test images
PATTERN_NETWORK = 0.975  # claimed for its zone-pattern network
