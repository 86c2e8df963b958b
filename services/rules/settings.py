from shared.settings import KizunaSettings


class RulesSettings(KizunaSettings):
    pass
