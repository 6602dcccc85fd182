"""The 16 entry-level categories of Geirhos et al. and their ImageNet classes (data).

Geirhos et al. (2018, NeurIPS; 2019, ICLR; 2021, NeurIPS "Partial success in
closing the gap between human and machine vision") ran their human psychophysics
with 16 entry-level categories; an ImageNet classifier's 1000 outputs are mapped to
them by averaging the softmax probabilities over the ImageNet classes of each
category (model-vs-human's ``ImageNetProbabilitiesTo16ClassesMapping`` with its
default ``np.mean``) and taking the most probable category.

Source (MIT License, Copyright (c) Robert Geirhos 2021):
bethgelab/model-vs-human, ``modelvshuman/helper/human_categories.py``
(``HumanCategories.<category>_indices``), commit 79ed7cd; the WordNet IDs of those
indices are the corresponding lines of ``modelvshuman/helper/categories.txt`` (the
ILSVRC-2012 class order), each of which lies in the category's WordNet set there.
207 of the 1000 ImageNet classes belong to a category; the rest are ignored.

Examples
--------
>>> len(CATEGORIES), CATEGORIES[:3]
(16, ('airplane', 'bear', 'bicycle'))
>>> IMAGENET_INDICES["knife"], IMAGENET_WNIDS["knife"]
((499,), ('n03041632',))
"""
from __future__ import annotations

__all__ = ["CATEGORIES", "IMAGENET_INDICES", "IMAGENET_WNIDS"]

#: ImageNet (ILSVRC-2012) output indices of each category, categories in alphabetical
#: order (the order model-vs-human uses).
IMAGENET_INDICES: dict[str, tuple[int, ...]] = {
    "airplane": (404,),
    "bear": (294, 295, 296, 297),
    "bicycle": (444, 671),
    "bird": (8, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 23, 24, 80, 81, 82, 83, 87, 88, 89, 90, 91,
        92, 93, 94, 95, 96, 98, 99, 100, 127, 128, 129, 130, 131, 132, 133, 135, 136, 137, 138, 139,
        140, 141, 142, 143, 144, 145),
    "boat": (472, 554, 625, 814, 914),
    "bottle": (440, 720, 737, 898, 899, 901, 907),
    "car": (436, 511, 817),
    "cat": (281, 282, 283, 284, 285, 286),
    "chair": (423, 559, 765, 857),
    "clock": (409, 530, 892),
    "dog": (152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164, 165, 166, 167, 168, 169,
        170, 171, 172, 173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187,
        188, 189, 190, 191, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 205, 206, 207,
        208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224, 225,
        226, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 243, 244, 245,
        246, 247, 248, 249, 250, 252, 253, 254, 255, 256, 257, 259, 261, 262, 263, 265, 266, 267,
        268),
    "elephant": (385, 386),
    "keyboard": (508, 878),
    "knife": (499,),
    "oven": (766,),
    "truck": (555, 569, 656, 675, 717, 734, 864, 867),
}

#: The WordNet IDs of the same classes, index for index.
IMAGENET_WNIDS: dict[str, tuple[str, ...]] = {
    "airplane": ('n02690373',),
    "bear": ('n02132136', 'n02133161', 'n02134084', 'n02134418'),
    "bicycle": ('n02835271', 'n03792782'),
    "bird": ('n01514859', 'n01530575', 'n01531178', 'n01532829', 'n01534433', 'n01537544', 'n01558993',
        'n01560419', 'n01582220', 'n01592084', 'n01601694', 'n01614925', 'n01616318', 'n01622779',
        'n01795545', 'n01796340', 'n01797886', 'n01798484', 'n01817953', 'n01818515', 'n01819313',
        'n01820546', 'n01824575', 'n01828970', 'n01829413', 'n01833805', 'n01843065', 'n01843383',
        'n01855032', 'n01855672', 'n01860187', 'n02002556', 'n02002724', 'n02006656', 'n02007558',
        'n02009229', 'n02009912', 'n02011460', 'n02013706', 'n02017213', 'n02018207', 'n02018795',
        'n02025239', 'n02027492', 'n02028035', 'n02033041', 'n02037110', 'n02051845', 'n02056570'),
    "boat": ('n02951358', 'n03344393', 'n03662601', 'n04273569', 'n04612504'),
    "bottle": ('n02823428', 'n03937543', 'n03983396', 'n04557648', 'n04560804', 'n04579145', 'n04591713'),
    "car": ('n02814533', 'n03100240', 'n04285008'),
    "cat": ('n02123045', 'n02123159', 'n02123394', 'n02123597', 'n02124075', 'n02125311'),
    "chair": ('n02791124', 'n03376595', 'n04099969', 'n04429376'),
    "clock": ('n02708093', 'n03196217', 'n04548280'),
    "dog": ('n02085782', 'n02085936', 'n02086079', 'n02086240', 'n02086646', 'n02086910', 'n02087046',
        'n02087394', 'n02088094', 'n02088238', 'n02088364', 'n02088466', 'n02088632', 'n02089078',
        'n02089867', 'n02089973', 'n02090379', 'n02090622', 'n02090721', 'n02091032', 'n02091134',
        'n02091244', 'n02091467', 'n02091635', 'n02091831', 'n02092002', 'n02092339', 'n02093256',
        'n02093428', 'n02093647', 'n02093754', 'n02093859', 'n02093991', 'n02094114', 'n02094258',
        'n02094433', 'n02095314', 'n02095570', 'n02095889', 'n02096051', 'n02096294', 'n02096437',
        'n02096585', 'n02097047', 'n02097130', 'n02097209', 'n02097298', 'n02097474', 'n02097658',
        'n02098105', 'n02098286', 'n02099267', 'n02099429', 'n02099601', 'n02099712', 'n02099849',
        'n02100236', 'n02100583', 'n02100735', 'n02100877', 'n02101006', 'n02101388', 'n02101556',
        'n02102040', 'n02102177', 'n02102318', 'n02102480', 'n02102973', 'n02104029', 'n02104365',
        'n02105056', 'n02105162', 'n02105251', 'n02105505', 'n02105641', 'n02105855', 'n02106030',
        'n02106166', 'n02106382', 'n02106550', 'n02106662', 'n02107142', 'n02107312', 'n02107574',
        'n02107683', 'n02107908', 'n02108000', 'n02108422', 'n02108551', 'n02108915', 'n02109047',
        'n02109525', 'n02109961', 'n02110063', 'n02110185', 'n02110627', 'n02110806', 'n02110958',
        'n02111129', 'n02111277', 'n02111500', 'n02112018', 'n02112350', 'n02112706', 'n02113023',
        'n02113624', 'n02113712', 'n02113799', 'n02113978'),
    "elephant": ('n02504013', 'n02504458'),
    "keyboard": ('n03085013', 'n04505470'),
    "knife": ('n03041632',),
    "oven": ('n04111531',),
    "truck": ('n03345487', 'n03417042', 'n03770679', 'n03796401', 'n03930630', 'n03977966', 'n04461696',
        'n04467665'),
}

#: The 16 categories, alphabetical (model-vs-human's ``get_human_object_recognition_categories``).
CATEGORIES: tuple[str, ...] = tuple(IMAGENET_INDICES)
