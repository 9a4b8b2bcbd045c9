"""What the unlearning methods share: the data and context they receive (``base``), the
per-sample passes and diagonal Fisher (``passes``, ``fisher``), the FGSM attack of
boundary shrink (``fgsm``) and the impair-repair loop of UNSIR, USI(F)R and DNF
(``impair_repair``), and the sharded training of SISA (``sharding``). ``lethe.methods`` holds only the methods themselves."""
