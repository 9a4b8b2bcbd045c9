"""The prepared digits dataset's split sizes, as known answers for the tests.

scikit-learn's 1,797 digits are split 75/25 (stratified, seed 0) into 1,347 training and
450 test images; data.validation (0.1 of every class, rounded) then holds 136 of the
training images out as the validation split, leaving 1,211 to train on.
"""

N_SOURCE_TRAIN = 1347
N_VAL = 136
N_TRAIN = N_SOURCE_TRAIN - N_VAL
N_TEST = 450
