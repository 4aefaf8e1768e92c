package dev.sparktune.augment;

import java.io.Serializable;

/**
 * What the augment stage does to the training split.
 *
 * <p>A method's ratio is the expected number of copies it makes per training row: 0.3 gives about 30% of the rows
 * one copy; 1.5 gives every row one copy and half of them a second. Which rows are picked depends only on the seed
 * and the row's id. Back-translation is deterministic, so its ratio is at most 1.
 *
 * @param seed                 the seed every choice (rows, words, synonyms, operations) is derived from
 * @param synonymRatio         copies per training row by synonym replacement
 * @param edaRatio             copies per training row by one EDA operation (swap, insert, delete)
 * @param backTranslationRatio copies per training row by back-translation, at most 1
 * @param synonyms             synonym replacement settings (also the protected tokens for EDA)
 * @param eda                  EDA settings
 * @param backTranslation      translator settings; may be null when {@code backTranslationRatio} is 0
 */
public record AugmentOptions(long seed, double synonymRatio, double edaRatio, double backTranslationRatio,
        SynonymOptions synonyms, EdaOptions eda, BackTranslationOptions backTranslation) implements Serializable {

    public AugmentOptions {
        ratio("synonym", synonymRatio);
        ratio("eda", edaRatio);
        ratio("back-translation", backTranslationRatio);
        if (backTranslationRatio > 1) {
            throw new IllegalArgumentException("back-translation ratio must be at most 1 (the same text always "
                    + "translates the same way), got " + backTranslationRatio);
        }
        if (backTranslationRatio > 0 && backTranslation == null) {
            throw new IllegalArgumentException("back-translation ratio is " + backTranslationRatio
                    + " but no translator is configured; set the translator and its endpoint, or the ratio to 0");
        }
        if (synonyms == null) {
            synonyms = SynonymOptions.defaults();
        }
        if (eda == null) {
            eda = EdaOptions.defaults();
        }
    }

    /** No augmentation at all. */
    public static AugmentOptions none() {
        return new AugmentOptions(0, 0, 0, 0, null, null, null);
    }

    double ratio(AugmentMethod method) {
        return switch (method) {
            case SYNONYM -> synonymRatio;
            case EDA -> edaRatio;
            case BACK_TRANSLATION -> backTranslationRatio;
        };
    }

    private static void ratio(String name, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(name + " ratio must be 0 or more, got " + value);
        }
    }
}
