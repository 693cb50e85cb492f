"""The default vocabulary of CLIP zero-shot tags: scenes, subjects and events a media platform
sees often. Replace it with MEDIASEARCH_CLIP_VOCABULARY=FILE (one tag per line)."""

VOCABULARY = (
    # scenes and places
    "beach", "sea", "lake", "river", "waterfall", "mountain", "snow", "forest", "desert", "field", "garden", "park",
    "city", "street", "road", "bridge", "skyline", "building", "church", "castle", "house", "kitchen", "living room",
    "bedroom", "office", "classroom", "library", "museum", "restaurant", "bar", "shop", "market", "stadium",
    "concert", "stage", "airport", "train station", "harbour", "farm", "factory", "laboratory", "hospital",
    "space", "night sky", "sunset", "sunrise", "clouds", "rain", "fog", "underwater",
    # people and activities
    "portrait", "selfie", "group of people", "crowd", "child", "baby", "family", "wedding", "party", "protest",
    "meeting", "lecture", "interview", "news broadcast", "sports", "football", "basketball", "tennis", "running",
    "cycling", "swimming", "skiing", "surfing", "climbing", "dancing", "cooking", "eating", "reading", "playing music",
    "painting", "gaming", "working on a computer", "shopping", "travel", "hiking", "camping",
    # animals
    "dog", "cat", "horse", "bird", "fish", "cow", "sheep", "insect", "wild animal", "pet",
    # things
    "car", "bicycle", "motorcycle", "bus", "train", "aeroplane", "boat", "rocket", "food", "drink", "coffee",
    "flowers", "tree", "plant", "fruit", "book", "phone", "computer", "camera", "clothing", "jewellery", "toy",
    "furniture", "musical instrument", "weapon", "money", "flag", "map",
    # kinds of picture
    "photograph", "drawing", "painting (artwork)", "cartoon", "meme", "screenshot", "text document", "slide",
    "chart", "diagram", "logo", "poster", "sign", "handwriting", "black and white photo", "aerial view",
    "close-up", "abstract pattern", "3d render", "video game",
    # events and mood
    "fire", "flood", "storm", "accident", "war", "celebration", "christmas", "halloween", "fireworks",
)
